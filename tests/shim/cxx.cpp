// cxx.cpp -- C++ new and delete under libkmem-preload.so: plain, array,
// nothrow and aligned forms, containers, bad_alloc.  Holds exactly HELD
// objects allocated with new by the program itself when it prints READY.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct Node {
	long payload[5];
};

struct alignas(256) Wide {
	char c[300];
};

static Node *held[500];
static volatile size_t huge = SIZE_MAX / 4;
static char *volatile escape;

int
main()
{
	for (auto &h : held)
		h = new Node();
	{
		std::vector<std::string> v;
		for (int i = 0; i < 10000; i++)
			v.push_back(std::to_string(i) + " a string long enough for the heap");
		std::map<int, std::string> m;
		for (int i = 0; i < 1000; i++)
			m[i] = v[i];
		if (m[999] != v[999])
			return 11;
		auto sp = std::make_shared<std::vector<int>>(1000, 7);
		if ((*sp)[999] != 7)
			return 12;
	}
	int *arr = new int[1000]();
	for (int i = 0; i < 1000; i++)
		if (arr[i] != 0)
			return 13;
	delete[] arr;
	Wide *w = new Wide;
	if ((reinterpret_cast<uintptr_t>(w) & 255) != 0)
		return 14;
	delete w;
	Wide *wa = new Wide[3];
	if ((reinterpret_cast<uintptr_t>(wa) & 255) != 0)
		return 15;
	delete[] wa;
	escape = new (std::nothrow) char[huge];
	if (escape != nullptr)
		return 16;
	bool caught = false;
	try {
		escape = new char[huge];
	} catch (const std::bad_alloc &) {
		caught = true;
	}
	if (!caught)
		return 17;
	std::printf("held %zu\nREADY\n", sizeof(held) / sizeof(held[0]));
	std::fflush(stdout);
	while (std::getchar() != EOF)
		;
	for (auto h : held)
		delete h;
	return 0;
}

# kmemstat -t, the live full-screen view: the static library kmemstat_top
# (kmemstat_top.h), over ncurses (ncursesw, else ncurses; Debian's
# libncurses-dev, which scripts/setup installs).  Include it once, from
# anywhere: include(${PROJECT_SOURCE_DIR}/tools/top.cmake).  Without
# ncurses it warns and defines nothing; with it, the target exists and
# whoever links it is compiled with KMEMSTAT_HAVE_TOP=1.
include_guard(GLOBAL)

find_package(PkgConfig REQUIRED)
pkg_check_modules(KMEM_NCURSESW IMPORTED_TARGET GLOBAL ncursesw)
if(KMEM_NCURSESW_FOUND)
  set(KMEM_CURSES PkgConfig::KMEM_NCURSESW)
else()
  pkg_check_modules(KMEM_NCURSES IMPORTED_TARGET GLOBAL ncurses)
  if(KMEM_NCURSES_FOUND)
    set(KMEM_CURSES PkgConfig::KMEM_NCURSES)
  endif()
endif()
if(NOT KMEM_CURSES)
  message(WARNING "ncurses not found (Debian: libncurses-dev; scripts/setup "
    "installs it): kmemstat -t is left out")
  return()
endif()

add_library(kmemstat_top STATIC ${CMAKE_CURRENT_LIST_DIR}/kmemstat_top.c)
target_include_directories(kmemstat_top PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(kmemstat_top PUBLIC kmem_static PRIVATE ${KMEM_CURSES})
target_compile_definitions(kmemstat_top INTERFACE KMEMSTAT_HAVE_TOP=1)

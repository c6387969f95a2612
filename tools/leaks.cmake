# tools/leaks.cmake -- kmem_leaks, a static library of kmemstat's leak
# verdict (leaks.c) and plots (plot.c), pure C over libc and libm.  Included
# by whoever needs it (tools/CMakeLists.txt, tests/CMakeLists.txt); the
# target is defined once.
if(NOT TARGET kmem_leaks)
  add_library(kmem_leaks STATIC
    ${PROJECT_SOURCE_DIR}/tools/leaks.c ${PROJECT_SOURCE_DIR}/tools/plot.c)
  target_include_directories(kmem_leaks PUBLIC ${PROJECT_SOURCE_DIR}/tools)
  find_library(KMEM_LIBM m)
  if(KMEM_LIBM)
    target_link_libraries(kmem_leaks PUBLIC ${KMEM_LIBM})
  endif()
endif()

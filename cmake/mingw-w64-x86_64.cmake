# Cross-compile portserve for 64-bit Windows with Debian's mingw-w64 (posix
# thread model: googletest needs std::mutex) and run the results under Wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(CMAKE_C_COMPILER   x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER  x86_64-w64-mingw32-windres)

set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# ctest runs every .exe through Wine (tools/wine-run.sh: wine, once more if
# Wine exits having printed nothing). WINEPREFIX comes from the test's
# environment (see tests/wine-fixture.sh), never the user's ~/.wine.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/../tools/wine-run.sh)

# Static runtime: Wine has no mingw runtime DLLs (libgcc, libstdc++, winpthread).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

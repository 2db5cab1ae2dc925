# The compile settings every portserve target shares, in one place: included
# by the top-level CMakeLists.txt and by bench/CMakeLists.txt when that is a
# project of its own (cmake -S bench). The Visual Studio projects take the
# definitions from CMake's targets (tools/gen_vcxproj.py reads the manifest).
include_guard(GLOBAL)

# Every executable in <build>/bin: portserve.exe, the examples, the bench
# tools, the tests and the fuzz targets (scripts and the installer look there).
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

set(CMAKE_C_STANDARD 11)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS OFF)

if(MSVC)
  set(PS_C_WARNINGS /W4 /WX)
else()
  set(PS_C_WARNINGS -Wall -Wextra -Werror -pedantic)
endif()

# The Windows API level (Windows 7: GetQueuedCompletionStatusEx,
# SetFileCompletionNotificationModes, CancelIoEx) and the lean windows.h,
# for every target that includes the Windows headers.
set(PS_WIN32_DEFINES WIN32_LEAN_AND_MEAN _WIN32_WINNT=0x0601)

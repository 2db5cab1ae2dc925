/* The product version, written here only: CMakeLists.txt takes
 * project(VERSION) from PS_VERSION, and the MSI is versioned from it
 * (./build.sh msi, build.ps1). The numbers feed the VERSIONINFO resource
 * (portserve.rc), the string `portserve --version` and the log. rc.exe
 * cannot build a string from numbers, hence both; CMake refuses to configure
 * when they differ. */
#ifndef PS_VERSION_H
#define PS_VERSION_H

#define PS_VERSION_MAJOR 0
#define PS_VERSION_MINOR 1
#define PS_VERSION_PATCH 0
#define PS_VERSION "0.1.0"

#endif

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

/* The product's name as Windows knows it: the service (SCM), its Event Log
 * source, its service SID (NT SERVICE\portserve). Written once; PS_WIDE
 * makes the UTF-16 literal the Win32 calls take. */
#define PS_PRODUCT_NAME "portserve"
#define PS_WIDE_(s) L##s
#define PS_WIDE(s) PS_WIDE_(s)

#endif

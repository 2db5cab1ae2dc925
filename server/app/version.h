/* The product version, equal to project(VERSION) in CMakeLists.txt, which
 * versions the MSI: CMake refuses to configure when these lines differ from it.
 * The numbers feed the VERSIONINFO resource (portserve.rc), the string
 * `portserve --version` and the log. rc.exe cannot build a string from numbers,
 * hence both. */
#ifndef PS_VERSION_H
#define PS_VERSION_H

#define PS_VERSION_MAJOR 0
#define PS_VERSION_MINOR 1
#define PS_VERSION_PATCH 0
#define PS_VERSION "0.1.0"

#endif

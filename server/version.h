/* The product version. Keep it equal to project(VERSION) in CMakeLists.txt,
 * which versions the MSI (tests/e2e/test_console.py checks they agree). */
#ifndef PS_VERSION_H
#define PS_VERSION_H

#define PS_VERSION "0.1.0"

#endif

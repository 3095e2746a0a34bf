// Fixed-width integer types for every compiler that builds these sources. NVRTC (what CuPy
// compiles with) ships no C library headers, so `#include <stdint.h>` fails there with "cannot
// open source file"; nvcc and host compilers have the real header.
#pragma once
#if defined(__CUDACC_RTC__)
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
#else
#include <stdint.h>
#endif

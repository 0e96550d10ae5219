/* Copies, compares, sorts and searches over (pointer, count) arrays that may be empty.
 *
 * An empty dynamic array is often (NULL, 0), but memcpy, memmove, memcmp, memset, qsort and
 * bsearch are declared nonnull: passing NULL is undefined even with a zero length, the compiler
 * may drop later NULL checks because of it, and UBSan aborts the sanitizer build there.  Every
 * call whose pointer comes from a dynamic array goes through these; calls on fixed arrays and
 * struct members keep the plain functions.  Header-only: tunneld, the bastion and keys use it. */
#ifndef COMMON_MEM_H
#define COMMON_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* memcpy of n bytes; nothing (and no pointer read) when n is 0. */
static inline void mem_copy(void *dst, const void *src, size_t n)
{
	if (n)
		memcpy(dst, src, n);
}

/* memmove of n bytes; nothing when n is 0. */
static inline void mem_move(void *dst, const void *src, size_t n)
{
	if (n)
		memmove(dst, src, n);
}

/* true if the n bytes are equal (not constant-time: never for secrets); true when n is 0. */
static inline bool mem_equal(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

/* qsort of n elements of size bytes; nothing when fewer than two. */
static inline void array_sort(void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* bsearch over n sorted elements; NULL (not found) when n is 0.  Returns a borrowed pointer
 * into base. */
static inline void *array_search(const void *key, const void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

#endif

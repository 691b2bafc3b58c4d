/* Deterministic random numbers (splitmix64 seeding + xoshiro256**): the same seed gives the
   same stream on every machine, so morphisms, initialisation and shuffling are reproducible. */
#ifndef NASH_RNG_H
#define NASH_RNG_H

#include <stdint.h>

typedef struct Rng {
	uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
/* Seeds from a base seed and a list of stream numbers (e.g. seed, step, child). */
void rng_seed3(Rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t rng_u64(Rng *r);
uint32_t rng_below(Rng *r, uint32_t n); /* uniform in [0, n), n > 0 */
double rng_uniform(Rng *r);             /* uniform in [0, 1) */
double rng_normal(Rng *r);              /* standard normal (Box-Muller) */
/* 64-bit FNV-1a over bytes, continuing from h (start with NASH_HASH_INIT). */
#define NASH_HASH_INIT 0xcbf29ce484222325ULL
uint64_t nash_hash(uint64_t h, const void *data, unsigned long n);

#endif

/* emu_rand: a small seeded PRNG and stateless hash noise, so that emulator runs repeat. */
#ifndef SITEWATCH_EMU_RAND_H
#define SITEWATCH_EMU_RAND_H

#include <stdint.h>

/* Sequential generator (splitmix64): one per owner, never shared between threads. */
struct emu_rand {
    uint64_t s;
};

void emu_rand_init(struct emu_rand *r, uint64_t seed);
uint64_t emu_rand_next(struct emu_rand *r);
/* Uniform in [0, n); n > 0. */
uint32_t emu_rand_below(struct emu_rand *r, uint32_t n);

/* Stateless: the same (seed, a, b) always gives the same 64 bits. */
uint64_t emu_hash(uint64_t seed, uint64_t a, uint64_t b);
/* Uniform in [0, 1) from emu_hash. */
double emu_hash_unit(uint64_t seed, uint64_t a, uint64_t b);
/* Smooth value noise in [-1, 1]: lattice values at integer x from emu_hash, interpolated between.
 * channel separates independent noise streams. x >= 0. */
double emu_noise(uint64_t seed, uint64_t channel, double x);

#endif

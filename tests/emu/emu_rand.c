/* emu_rand: a small seeded PRNG and stateless hash noise, so that emulator runs repeat. */
#include "emu_rand.h"

#include <math.h>

/* splitmix64 finaliser (Steele, Lea, Flood 2014): good avalanche for a few instructions. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void emu_rand_init(struct emu_rand *r, uint64_t seed)
{
    r->s = seed;
}

uint64_t emu_rand_next(struct emu_rand *r)
{
    r->s += 0x9E3779B97F4A7C15ULL;
    return mix64(r->s);
}

uint32_t emu_rand_below(struct emu_rand *r, uint32_t n)
{
    return (uint32_t)((emu_rand_next(r) >> 32) % n);
}

uint64_t emu_hash(uint64_t seed, uint64_t a, uint64_t b)
{
    return mix64(mix64(mix64(seed + 0x9E3779B97F4A7C15ULL) ^ a) + b);
}

double emu_hash_unit(uint64_t seed, uint64_t a, uint64_t b)
{
    return (double)(emu_hash(seed, a, b) >> 11) * (1.0 / 9007199254740992.0);
}

double emu_noise(uint64_t seed, uint64_t channel, double x)
{
    double k = floor(x);
    double f = x - k;
    uint64_t i = (uint64_t)k;
    double a = emu_hash_unit(seed, channel, i) * 2.0 - 1.0;
    double b = emu_hash_unit(seed, channel, i + 1) * 2.0 - 1.0;
    /* smoothstep, so the noise has no kinks at lattice points */
    double w = f * f * (3.0 - 2.0 * f);
    return a + (b - a) * w;
}

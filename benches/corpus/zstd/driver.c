/* Benchmark driver: trains two dictionaries on generated text-like samples (the default
 * fast-cover trainer and the suffix-array based legacy one), then compresses generated blocks at several levels (fast, double-fast, lazy
 * and optimal-parsing match finders), alternately with the dictionary (digested once) and
 * through the streaming API (sometimes with long-distance matching), decompresses them (one-shot or streaming) and checks the round trip. The checksum combines the compressed sizes and the XXH64 hashes of the
 * compressed frames, so any difference in the encoder's decisions changes it.
 *
 * Wasm: a WASI reactor exporting `run: [i32] -> [i64]` (call `_initialize` first).
 * Native (-DNATIVE_MAIN): `./zstd-bench SIZE` prints the checksum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include "xxhash.h"
#define ZDICT_STATIC_LINKING_ONLY
#include "zdict.h"
#include "zstd.h"

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

static const char *const words[] = {
    "the",   "quick", "brown", "fox",     "jumps",  "over", "lazy",  "dog",
    "wasm",  "kiln",  "tier",  "compile", "cranelift", "interpreter", "module", "memory",
    "table", "trap",  "stack", "value",   "\n",     ", ",   ". ",    "0123456789",
};

/* Fills `out` with `size` bytes of word salad from a fixed pseudo-random sequence. */
static void generate(char *out, size_t size, unsigned int seed) {
  size_t n = 0;
  while (n < size) {
    seed = seed * 1103515245u + 12345u;
    const char *w = words[(seed >> 16) % (sizeof words / sizeof words[0])];
    size_t len = strlen(w);
    for (size_t i = 0; i < len && n < size; i++) out[n++] = w[i];
    if (n < size && (seed & 3)) out[n++] = ' ';
  }
}

/* Work unit: one 64 KiB block. */
#define BLOCK (64 * 1024)
#define SAMPLES 64
#define SAMPLE_SIZE 1024
#define DICT_CAPACITY (8 * 1024)

/* Compresses `input` with the streaming API in 4 KiB steps; returns the frame size. */
static size_t compress_streaming(ZSTD_CCtx *cctx, int level, int long_distance, char *dst,
                                 size_t capacity, const char *input, size_t size) {
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, long_distance);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  ZSTD_outBuffer out = {dst, capacity, 0};
  for (size_t pos = 0; pos < size; pos += 4096) {
    size_t step = size - pos < 4096 ? size - pos : 4096;
    ZSTD_inBuffer in = {input + pos, step, 0};
    ZSTD_EndDirective mode = pos + step == size ? ZSTD_e_end : ZSTD_e_continue;
    size_t left;
    do {
      left = ZSTD_compressStream2(cctx, &out, &in, mode);
      if (ZSTD_isError(left)) return left;
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
  }
  return out.pos;
}

/* Decompresses a frame with the streaming API; returns the decompressed size. */
static size_t decompress_streaming(ZSTD_DCtx *dctx, char *dst, size_t capacity,
                                   const char *frame, size_t size) {
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  ZSTD_inBuffer in = {frame, size, 0};
  ZSTD_outBuffer out = {dst, capacity, 0};
  while (in.pos < in.size) {
    size_t r = ZSTD_decompressStream(dctx, &out, &in);
    if (ZSTD_isError(r)) return r;
    if (r == 0) break;
  }
  return out.pos;
}

EXPORT("run") long long run(int size) {
  static const int levels[] = {1, 3, 9, 19};
  char *input = malloc(BLOCK);
  size_t bound = ZSTD_compressBound(BLOCK);
  char *compressed = malloc(bound);
  char *output = malloc(BLOCK);
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  char *samples = malloc(SAMPLES * SAMPLE_SIZE);
  char *dict = malloc(DICT_CAPACITY);
  if (!input || !compressed || !output || !cctx || !dctx || !samples || !dict) return -1;
  size_t sample_sizes[SAMPLES];
  for (int i = 0; i < SAMPLES; i++) {
    generate(samples + i * SAMPLE_SIZE, SAMPLE_SIZE, 7u * (unsigned int)i + 3u);
    sample_sizes[i] = SAMPLE_SIZE;
  }
  size_t dict_size =
      ZDICT_trainFromBuffer(dict, DICT_CAPACITY, samples, sample_sizes, SAMPLES);
  if (ZDICT_isError(dict_size)) return -4;
  unsigned long long checksum = dict_size;
  char *legacy_dict = malloc(DICT_CAPACITY);
  if (!legacy_dict) return -1;
  ZDICT_legacy_params_t legacy_params;
  memset(&legacy_params, 0, sizeof legacy_params);
  size_t legacy_dict_size = ZDICT_trainFromBuffer_legacy(
      legacy_dict, DICT_CAPACITY, samples, sample_sizes, SAMPLES, legacy_params);
  if (ZDICT_isError(legacy_dict_size)) return -4;
  checksum = checksum * 31 + legacy_dict_size;
  ZSTD_CDict *cdicts[4];
  for (int i = 0; i < 4; i++) cdicts[i] = ZSTD_createCDict(dict, dict_size, levels[i]);
  ZSTD_DDict *ddict = ZSTD_createDDict(dict, dict_size);
  if (!cdicts[0] || !cdicts[1] || !cdicts[2] || !cdicts[3] || !ddict) return -1;
  for (int round = 0; round < size; round++) {
    generate(input, BLOCK, (unsigned int)round * 2654435761u + 1u);
    int level = levels[round % 4];
    int with_dict = round % 2 == 1;
    /* Round kinds, by round % 4: 0 and 2 streaming (2 with long-distance matching), 1 the
     * digested dictionary, 3 the legacy-trained dictionary given raw. */
    size_t csize;
    if (!with_dict)
      csize = compress_streaming(cctx, level, round % 4 == 2, compressed, bound, input, BLOCK);
    else if (round % 4 == 1)
      csize = ZSTD_compress_usingCDict(cctx, compressed, bound, input, BLOCK, cdicts[round % 4]);
    else
      csize = ZSTD_compress_usingDict(cctx, compressed, bound, input, BLOCK, legacy_dict,
                                      legacy_dict_size, level);
    if (ZSTD_isError(csize)) return -2;
    size_t dsize;
    if (!with_dict)
      dsize = decompress_streaming(dctx, output, BLOCK, compressed, csize);
    else if (round % 4 == 1)
      dsize = ZSTD_decompress_usingDDict(dctx, output, BLOCK, compressed, csize, ddict);
    else
      dsize = ZSTD_decompress_usingDict(dctx, output, BLOCK, compressed, csize, legacy_dict,
                                        legacy_dict_size);
    if (ZSTD_isError(dsize) || dsize != BLOCK || memcmp(input, output, BLOCK) != 0) return -3;
    checksum = checksum * 31 + csize;
    checksum ^= XXH64(compressed, csize, (unsigned long long)level);
  }
  for (int i = 0; i < 4; i++) ZSTD_freeCDict(cdicts[i]);
  ZSTD_freeDDict(ddict);
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);
  free(input);
  free(compressed);
  free(output);
  free(samples);
  free(dict);
  free(legacy_dict);
  return (long long)(checksum >> 1);
}

#ifdef NATIVE_MAIN
int main(int argc, char **argv) {
  printf("%lld\n", run(argc > 1 ? atoi(argv[1]) : 1));
  return 0;
}
#endif

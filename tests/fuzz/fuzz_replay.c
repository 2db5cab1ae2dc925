/* The main of the coverage build of the fuzz targets (PS_FUZZ_COVERAGE,
 * ./build.sh fuzz-coverage): each file named, and each file under each folder
 * named, goes once through LLVMFuzzerTestOneInput, as libFuzzer's -runs=0
 * does, but with no fuzzer runtime or sanitizer, so the profile counts only
 * what the inputs reach. Arguments starting with '-' (libFuzzer's flags) are
 * skipped, so the ctest command lines work unchanged. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay__file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
    return -1;
  }
  size_t cap = 4096, len = 0, got;
  uint8_t *data = malloc(cap);
  while (data != NULL && (got = fread(data + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      uint8_t *bigger = realloc(data, cap * 2);
      if (bigger == NULL) free(data);
      data = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  if (data == NULL) {
    fprintf(stderr, "fuzz_replay: out of memory reading %s\n", path);
    return -1;
  }
  /* A copy of exactly the input's length, as libFuzzer passes it. */
  uint8_t *exact = malloc(len > 0 ? len : 1);
  if (exact == NULL) {
    free(data);
    return -1;
  }
  memcpy(exact, data, len);
  free(data);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

/* Files under `path`, folders recursed into (libFuzzer reads corpora so). */
static int replay__path(const char *path, unsigned *inputs) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "fuzz_replay: no such file or folder: %s\n", path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (replay__file(path) != 0) return -1;
    (*inputs)++;
    return 0;
  }
  DIR *dir = opendir(path);
  if (dir == NULL) {
    fprintf(stderr, "fuzz_replay: cannot read folder %s\n", path);
    return -1;
  }
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(dir)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    size_t n = strlen(path) + 1 + strlen(e->d_name) + 1;
    char *child = malloc(n);
    if (child == NULL) {
      rc = -1;
      break;
    }
    snprintf(child, n, "%s/%s", path, e->d_name);
    rc = replay__path(child, inputs);
    free(child);
  }
  closedir(dir);
  return rc;
}

int main(int argc, char **argv) {
  unsigned inputs = 0;
  /* libFuzzer tries the empty input first; so does this. */
  uint8_t none = 0;
  LLVMFuzzerTestOneInput(&none, 0);
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-') continue;
    if (replay__path(argv[i], &inputs) != 0) return 1;
  }
  printf("fuzz_replay: %u inputs\n", inputs);
  return 0;
}

/* fuzz-frames.c: libFuzzer target for the frame reader and the message
 * decoder (and the encoder, on everything that decodes). */
#include "config.h"

#include "sc-fuzz.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  sc_fuzz_frames (data, size);
  return 0;
}

/* sc-fuzz.h: the fuzz entry point for the frame reader and decoder. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

guint sc_fuzz_frames (const guint8 *data, gsize size);

G_END_DECLS

/* sc-frame-reader.h: turns a byte stream, split or joined any way recv()
 * pleases, into whole frames. */
#pragma once

#include <glib.h>

#include "sc-protocol.h"

G_BEGIN_DECLS

typedef struct _ScFrameReader ScFrameReader;

typedef enum
{
  SC_FRAME_INCOMPLETE, /* more bytes are needed */
  SC_FRAME_READY,      /* a whole frame is available */
  SC_FRAME_ERROR,      /* the stream is unusable from here on */
} ScFrameStatus;

ScFrameReader *sc_frame_reader_new (guint32 max_payload);
void sc_frame_reader_free (ScFrameReader *reader);
void sc_frame_reader_set_max_payload (ScFrameReader *reader,
                                      guint32 max_payload);

guint8 *
sc_frame_reader_reserve (ScFrameReader *reader, gsize wanted, gsize *available);
void sc_frame_reader_commit (ScFrameReader *reader, gsize n);
void
sc_frame_reader_feed (ScFrameReader *reader, const guint8 *data, gsize length);
ScFrameStatus sc_frame_reader_next (ScFrameReader *reader,
                                    ScFrameHeader *header,
                                    const guint8 **payload,
                                    GError **error);
gsize sc_frame_reader_buffered (const ScFrameReader *reader);
gsize sc_frame_reader_capacity (const ScFrameReader *reader);
void sc_frame_reader_trim (ScFrameReader *reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScFrameReader, sc_frame_reader_free)

G_END_DECLS

/* sc-fuzz.c: runs arbitrary bytes through the frame reader and decoder
 * the way a server connection does, in uneven slices, and re-encodes
 * every decoded message.  libFuzzer targets and the corpus replay test
 * both call this. */
#include "config.h"

#include "sc-frame-reader.h"
#include "sc-fuzz.h"
#include "sc-message.h"

/* Returns the number of frames that decoded. */
guint
sc_fuzz_frames (const guint8 *data, gsize size)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  gsize offset = 0, slice = 1;
  guint decoded = 0;

  while (offset < size)
    {
      gsize n = MIN (slice, size - offset);
      ScFrameHeader header;
      const guint8 *payload;
      ScFrameStatus status;

      sc_frame_reader_feed (reader, data + offset, n);
      offset += n;
      slice = slice * 3 % 1021 + 1;

      while ((status = sc_frame_reader_next (reader, &header, &payload,
                                             NULL)) == SC_FRAME_READY)
        {
          g_autoptr (ScMessage) message =
            sc_message_decode (&header, payload, NULL);
          if (message != NULL)
            {
              g_bytes_unref (sc_message_encode (message));
              decoded++;
            }
        }
      if (status == SC_FRAME_ERROR)
        break;
    }
  return decoded;
}

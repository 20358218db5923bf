/* sc-frame-reader.c: an incremental frame reader.
 *
 * Bytes live in one buffer between @start and @end.  A frame is handed out
 * as a pointer into that buffer, valid until the next call on the reader,
 * so a caller that decodes at once never copies the payload.  The buffer
 * grows only as far as the largest frame the header check allowed plus
 * one read, so an untrusted length never sizes an allocation by itself.
 */
#include "config.h"

#include <string.h>

#include "sc-frame-reader.h"

struct _ScFrameReader
{
  guint8 *data;
  gsize capacity;
  gsize start;
  gsize end;
  guint32 max_payload;
  gboolean failed;
};

#define INITIAL_CAPACITY 4096

ScFrameReader *
sc_frame_reader_new (guint32 max_payload)
{
  ScFrameReader *reader = g_new0 (ScFrameReader, 1);

  reader->max_payload = MIN (max_payload, SC_MAX_PAYLOAD_LIMIT);
  return reader;
}

void
sc_frame_reader_free (ScFrameReader *reader)
{
  if (reader == NULL)
    return;
  g_free (reader->data);
  g_free (reader);
}

void
sc_frame_reader_set_max_payload (ScFrameReader *reader, guint32 max_payload)
{
  reader->max_payload = MIN (max_payload, SC_MAX_PAYLOAD_LIMIT);
}

gsize
sc_frame_reader_buffered (const ScFrameReader *reader)
{
  return reader->end - reader->start;
}

gsize
sc_frame_reader_capacity (const ScFrameReader *reader)
{
  return reader->capacity;
}

/* Gives the buffer back when it holds nothing, so that thousands of idle
 * connections cost no read buffers. */
void
sc_frame_reader_trim (ScFrameReader *reader)
{
  if (sc_frame_reader_buffered (reader) > 0)
    return;
  g_clear_pointer (&reader->data, g_free);
  reader->capacity = reader->start = reader->end = 0;
}

/* Returns a place to write at least @wanted bytes (for recv()), moving
 * unconsumed bytes to the front or growing the buffer as needed.  Call
 * sc_frame_reader_commit() with what was actually written. */
guint8 *
sc_frame_reader_reserve (ScFrameReader *reader, gsize wanted, gsize *available)
{
  gsize buffered = sc_frame_reader_buffered (reader);

  g_return_val_if_fail (wanted > 0, NULL);

  if (reader->capacity - reader->end < wanted && reader->start > 0)
    {
      memmove (reader->data, reader->data + reader->start, buffered);
      reader->start = 0;
      reader->end = buffered;
    }
  if (reader->capacity - reader->end < wanted)
    {
      gsize capacity = MAX (reader->capacity, INITIAL_CAPACITY);

      while (capacity - reader->end < wanted)
        capacity *= 2;
      reader->data = g_realloc (reader->data, capacity);
      reader->capacity = capacity;
    }
  if (available)
    *available = reader->capacity - reader->end;
  return reader->data + reader->end;
}

void
sc_frame_reader_commit (ScFrameReader *reader, gsize n)
{
  g_return_if_fail (n <= reader->capacity - reader->end);
  reader->end += n;
}

void
sc_frame_reader_feed (ScFrameReader *reader, const guint8 *data, gsize length)
{
  if (length == 0)
    return;
  memcpy (sc_frame_reader_reserve (reader, length, NULL), data, length);
  sc_frame_reader_commit (reader, length);
}

/* Returns SC_FRAME_READY with @header and @payload describing the next
 * frame and consumes it; SC_FRAME_INCOMPLETE when more bytes are needed;
 * SC_FRAME_ERROR (sticky) when the stream is not SockChat. */
ScFrameStatus
sc_frame_reader_next (ScFrameReader *reader,
                      ScFrameHeader *header,
                      const guint8 **payload,
                      GError **error)
{
  gsize buffered = sc_frame_reader_buffered (reader);
  const guint8 *head;

  if (reader->failed)
    {
      g_set_error_literal (error, SC_ERROR, SC_ERROR_MALFORMED,
                           "stream already failed");
      return SC_FRAME_ERROR;
    }
  if (buffered < SC_FRAME_HEADER_SIZE)
    {
      if (buffered == 0 && reader->start > 0)
        reader->start = reader->end = 0;
      return SC_FRAME_INCOMPLETE;
    }
  head = reader->data + reader->start;
  if (!sc_frame_header_parse (head, buffered, reader->max_payload, header,
                              error))
    {
      reader->failed = TRUE;
      return SC_FRAME_ERROR;
    }
  if (buffered - SC_FRAME_HEADER_SIZE < header->payload_length)
    {
      /* Make room for the rest of this frame in one step, so the next
       * recv() can complete it. */
      sc_frame_reader_reserve (
        reader, header->payload_length - (buffered - SC_FRAME_HEADER_SIZE),
        NULL);
      return SC_FRAME_INCOMPLETE;
    }
  *payload = head + SC_FRAME_HEADER_SIZE;
  reader->start += SC_FRAME_HEADER_SIZE + header->payload_length;
  return SC_FRAME_READY;
}

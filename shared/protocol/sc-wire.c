/* sc-wire.c: field encoding of docs/PROTOCOL.md ("Payload fields"). */
#include "config.h"

#include <string.h>

#include "sc-protocol.h"
#include "sc-wire.h"

void
sc_wire_reader_init (ScWireReader *reader, const guint8 *data, gsize length)
{
  reader->data = data;
  reader->length = length;
  reader->pos = 0;
}

gsize
sc_wire_reader_remaining (const ScWireReader *reader)
{
  return reader->length - reader->pos;
}

static gboolean
take (ScWireReader *reader, gsize n, void *out, GError **error)
{
  if (n > sc_wire_reader_remaining (reader))
    {
      g_set_error (error, SC_ERROR, SC_ERROR_MALFORMED,
                   "payload truncated: field of %" G_GSIZE_FORMAT
                   " bytes at offset %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT,
                   n, reader->pos, reader->length);
      return FALSE;
    }
  memcpy (out, reader->data + reader->pos, n);
  reader->pos += n;
  return TRUE;
}

gboolean
sc_wire_read_u8 (ScWireReader *reader, guint8 *out, GError **error)
{
  return take (reader, 1, out, error);
}

gboolean
sc_wire_read_u16 (ScWireReader *reader, guint16 *out, GError **error)
{
  guint16 v;
  if (!take (reader, sizeof v, &v, error))
    return FALSE;
  *out = GUINT16_FROM_BE (v);
  return TRUE;
}

gboolean
sc_wire_read_u32 (ScWireReader *reader, guint32 *out, GError **error)
{
  guint32 v;
  if (!take (reader, sizeof v, &v, error))
    return FALSE;
  *out = GUINT32_FROM_BE (v);
  return TRUE;
}

gboolean
sc_wire_read_u64 (ScWireReader *reader, guint64 *out, GError **error)
{
  guint64 v;
  if (!take (reader, sizeof v, &v, error))
    return FALSE;
  *out = GUINT64_FROM_BE (v);
  return TRUE;
}

/* Strings are a 16-bit byte count followed by that many bytes of UTF-8
 * without NUL.  The result is always a valid, NUL-terminated string. */
gboolean
sc_wire_read_string (ScWireReader *reader, char **out, GError **error)
{
  guint16 n;
  const char *start;

  if (!sc_wire_read_u16 (reader, &n, error))
    return FALSE;
  if (n > sc_wire_reader_remaining (reader))
    {
      g_set_error (error, SC_ERROR, SC_ERROR_MALFORMED,
                   "string of %u bytes is longer than the %" G_GSIZE_FORMAT
                   " bytes left in the payload",
                   n, sc_wire_reader_remaining (reader));
      return FALSE;
    }
  start = (const char *) reader->data + reader->pos;
  if (memchr (start, '\0', n) != NULL || !g_utf8_validate (start, n, NULL))
    {
      g_set_error (error, SC_ERROR, SC_ERROR_BAD_UTF8,
                   "string at offset %" G_GSIZE_FORMAT
                   " is not valid UTF-8 without NUL",
                   reader->pos);
      return FALSE;
    }
  *out = g_strndup (start, n);
  reader->pos += n;
  return TRUE;
}

void
sc_wire_append_u8 (GByteArray *out, guint8 value)
{
  g_byte_array_append (out, &value, 1);
}

void
sc_wire_append_u16 (GByteArray *out, guint16 value)
{
  guint16 v = GUINT16_TO_BE (value);
  g_byte_array_append (out, (const guint8 *) &v, sizeof v);
}

void
sc_wire_append_u32 (GByteArray *out, guint32 value)
{
  guint32 v = GUINT32_TO_BE (value);
  g_byte_array_append (out, (const guint8 *) &v, sizeof v);
}

void
sc_wire_append_u64 (GByteArray *out, guint64 value)
{
  guint64 v = GUINT64_TO_BE (value);
  g_byte_array_append (out, (const guint8 *) &v, sizeof v);
}

/* Callers guarantee valid UTF-8; a string longer than a field can hold is
 * cut at a character boundary rather than producing a corrupt frame. */
void
sc_wire_append_string (GByteArray *out, const char *value)
{
  gsize n = value ? strlen (value) : 0;

  if (n > G_MAXUINT16)
    {
      const char *end = g_utf8_find_prev_char (value, value + G_MAXUINT16 + 1);
      n = end ? (gsize) (end - value) : 0;
    }
  sc_wire_append_u16 (out, (guint16) n);
  if (n > 0)
    g_byte_array_append (out, (const guint8 *) value, n);
}

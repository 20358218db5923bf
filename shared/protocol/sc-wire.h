/* sc-wire.h: bounds-checked reading and appending of payload fields. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A cursor over one payload.  Every read checks that the field fits in
 * what is left before touching a byte. */
typedef struct
{
  const guint8 *data;
  gsize length;
  gsize pos;
} ScWireReader;

void
sc_wire_reader_init (ScWireReader *reader, const guint8 *data, gsize length);
gsize sc_wire_reader_remaining (const ScWireReader *reader);
gboolean sc_wire_read_u8 (ScWireReader *reader, guint8 *out, GError **error);
gboolean sc_wire_read_u16 (ScWireReader *reader, guint16 *out, GError **error);
gboolean sc_wire_read_u32 (ScWireReader *reader, guint32 *out, GError **error);
gboolean sc_wire_read_u64 (ScWireReader *reader, guint64 *out, GError **error);
gboolean sc_wire_read_string (ScWireReader *reader, char **out, GError **error);

void sc_wire_append_u8 (GByteArray *out, guint8 value);
void sc_wire_append_u16 (GByteArray *out, guint16 value);
void sc_wire_append_u32 (GByteArray *out, guint32 value);
void sc_wire_append_u64 (GByteArray *out, guint64 value);
void sc_wire_append_string (GByteArray *out, const char *value);

G_END_DECLS

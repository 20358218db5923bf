/* test-protocol-doc.c: keeps docs/PROTOCOL.md honest.
 *
 * Every example frame in the specification sits in a ```hex fenced block.
 * This test pulls them all out and runs them through the real codec, so an
 * example that drifts from sc-message.c (or a codec change that forgets
 * the document) fails the build instead of misleading an implementer.
 *
 * The document's path comes from the SC_PROTOCOL_DOC environment variable.
 */
#include "config.h"

#include <string.h>

#include "sc-frame-reader.h"
#include "sc-message.h"

/* How many message types sc-protocol.h defines; a new type must come with
 * a documented example, and this number must be raised with it. */
#define N_KNOWN_TYPES 29

typedef struct
{
  guint line;    /* line of the ```hex fence, for failure messages */
  GBytes *bytes; /* exactly one frame */
} Example;

static void
example_free (gpointer data)
{
  Example *example = data;

  g_bytes_unref (example->bytes);
  g_free (example);
}

static char *
read_document (void)
{
  const char *path = g_getenv ("SC_PROTOCOL_DOC");
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  if (path == NULL)
    g_test_message ("SC_PROTOCOL_DOC is not set");
  g_assert_nonnull (path);
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static gboolean
is_fence (const char *line)
{
  while (g_ascii_isspace (*line))
    line++;
  return g_str_has_prefix (line, "```");
}

/* Appends the bytes of one line of a hex block.  Everything from '#' on
 * is a comment; the rest must be whitespace-separated two-digit hex. */
static void
parse_hex_line (char *line, guint line_number, GByteArray *out)
{
  char *comment = strchr (line, '#');
  g_auto (GStrv) tokens = NULL;

  if (comment != NULL)
    *comment = '\0';
  tokens = g_strsplit_set (line, " \t\r", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      const char *t = tokens[i];
      guint8 byte;

      if (*t == '\0')
        continue;
      if (strlen (t) != 2 || !g_ascii_isxdigit (t[0]) ||
          !g_ascii_isxdigit (t[1]))
        g_test_message ("line %u: \"%s\" is not a hex byte", line_number, t);
      g_assert_cmpuint (strlen (t), ==, 2);
      g_assert_true (g_ascii_isxdigit (t[0]) && g_ascii_isxdigit (t[1]));
      byte = (guint8) (g_ascii_xdigit_value (t[0]) * 16 +
                       g_ascii_xdigit_value (t[1]));
      g_byte_array_append (out, &byte, 1);
    }
}

/* A block may hold several frames back to back; the header of each says
 * where the next one starts, exactly as on the wire. */
static void
split_frames (GByteArray *block, guint fence_line, GPtrArray *examples)
{
  gsize pos = 0;

  g_assert_cmpuint (block->len, >, 0);
  while (pos < block->len)
    {
      g_autoptr (GError) error = NULL;
      gssize needed = sc_frame_bytes_needed (
        block->data + pos, block->len - pos, SC_MAX_PAYLOAD_LIMIT, &error);
      Example *example;

      if (needed <= 0 || (gsize) needed > block->len - pos)
        g_test_message ("hex block at line %u: incomplete or bad frame at "
                        "byte %" G_GSIZE_FORMAT,
                        fence_line, pos);
      g_assert_no_error (error);
      g_assert_cmpint (needed, >, 0);
      g_assert_cmpint (needed, <=, (gssize) (block->len - pos));

      example = g_new0 (Example, 1);
      example->line = fence_line;
      example->bytes = g_bytes_new (block->data + pos, needed);
      g_ptr_array_add (examples, example);
      pos += needed;
    }
}

/* Returns every example frame of the document, in order. */
static GPtrArray *
load_examples (void)
{
  g_autofree char *contents = read_document ();
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  GPtrArray *examples = g_ptr_array_new_with_free_func (example_free);
  g_autoptr (GByteArray) block = NULL;
  guint fence_line = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (block == NULL)
        {
          if (g_str_has_prefix (lines[i], "```hex"))
            {
              block = g_byte_array_new ();
              fence_line = i + 1;
            }
        }
      else if (is_fence (lines[i]))
        {
          split_frames (block, fence_line, examples);
          g_clear_pointer (&block, g_byte_array_unref);
        }
      else
        parse_hex_line (lines[i], i + 1, block);
    }
  /* An unclosed block would silently drop its frames. */
  g_assert_null (block);
  return examples;
}

static void
test_examples_round_trip (void)
{
  g_autoptr (GPtrArray) examples = load_examples ();

  g_assert_cmpuint (examples->len, >, 0);
  for (guint i = 0; i < examples->len; i++)
    {
      Example *example = g_ptr_array_index (examples, i);
      gsize length;
      const guint8 *data = g_bytes_get_data (example->bytes, &length);
      g_autoptr (GError) error = NULL;
      g_autoptr (ScMessage) message = NULL;
      g_autoptr (GBytes) again = NULL;
      ScFrameHeader header;
      gsize again_length;
      const guint8 *again_data;

      g_test_message ("example at line %u", example->line);
      sc_frame_header_parse (data, length, SC_MAX_PAYLOAD_DEFAULT, &header,
                             &error);
      g_assert_no_error (error);
      message =
        sc_message_decode (&header, data + SC_FRAME_HEADER_SIZE, &error);
      g_assert_no_error (error);
      g_assert_nonnull (message);

      /* Re-encoding must give the documented bytes exactly: this catches
       * trailing bytes the decoder skipped and any field drawn wrongly. */
      again = sc_message_encode (message);
      again_data = g_bytes_get_data (again, &again_length);
      g_assert_cmpmem (again_data, again_length, data, length);
    }
}

static void
test_every_type_has_example (void)
{
  g_autoptr (GPtrArray) examples = load_examples ();
  gboolean seen[256] = { FALSE };
  guint n_known = 0;

  for (guint i = 0; i < examples->len; i++)
    {
      Example *example = g_ptr_array_index (examples, i);
      const guint8 *data = g_bytes_get_data (example->bytes, NULL);

      seen[data[3]] = TRUE;
    }
  for (guint type = 0; type < G_N_ELEMENTS (seen); type++)
    {
      if (!sc_message_type_is_known (type))
        continue;
      n_known++;
      if (!seen[type])
        g_test_message ("no example for %s (0x%02x)",
                        sc_message_type_name (type), type);
      g_assert_true (seen[type]);
    }
  g_assert_cmpuint (n_known, ==, N_KNOWN_TYPES);
}

/* The document's own words for a number or a name, next to what the
 * code defines, so that neither can change alone. */
static void
assert_document_says (const char *contents, const char *phrase)
{
  if (strstr (contents, phrase) == NULL)
    g_test_message ("PROTOCOL.md does not say \"%s\"", phrase);
  g_assert_nonnull (strstr (contents, phrase));
}

static void
test_numbers_agree (void)
{
  g_autofree char *contents = read_document ();
  g_autofree char *types =
    g_strdup_printf ("one of the %d types of section 4", N_KNOWN_TYPES);
  g_autofree char *nickname =
    g_strdup_printf ("not 1 to %d bytes of UTF-8", SC_NICKNAME_MAX);
  g_autofree char *program =
    g_strdup_printf ("at most %d bytes |", SC_PROGRAM_MAX);

  assert_document_says (contents, types);
  assert_document_says (contents, nickname);
  assert_document_says (contents, program);
}

/* Section 2 lists every flag bit each type defines; each must be the
 * value sc-protocol.h gives it. */
static void
test_flags_agree (void)
{
  g_autofree char *contents = read_document ();
  struct
  {
    const char *type;
    guint value;
    const char *name;
  } flags[] = {
    { "GREETING", SC_FLAG_PROTOCOL_1_1, "PROTOCOL_1_1" },
    { "HELLO", SC_FLAG_NO_PRESENCE, "NO_PRESENCE" },
    { "HELLO", SC_FLAG_RECEIPT_BATCHES, "RECEIPT_BATCHES" },
    { "SEND_MESSAGE", SC_FLAG_QUIET, "QUIET" },
    { "BROADCAST", SC_FLAG_NO_RECEIPT, "NO_RECEIPT" },
    { "MESSAGE", SC_FLAG_NO_ACK, "NO_ACK" },
  };
  const char *row = strstr (contents, "| 4 | u16 | flags |");
  g_autofree char *cell = NULL;

  g_assert_nonnull (row);
  cell = g_strndup (row, strcspn (row, "\n"));
  for (gsize i = 0; i < G_N_ELEMENTS (flags); i++)
    {
      g_autofree char *pair =
        g_strdup_printf ("`0x%04x` %s", flags[i].value, flags[i].name);

      if (strstr (cell, pair) == NULL || strstr (cell, flags[i].type) == NULL)
        g_test_message ("section 2 lacks %s %s", flags[i].type, pair);
      g_assert_nonnull (strstr (cell, pair));
      g_assert_nonnull (strstr (cell, flags[i].type));
    }
}

/* Section 5.9 has one row per status code the codec knows, in order,
 * and no other. */
static void
test_status_table (void)
{
  static const char *const names[] = {
    "OK",
    "BAD_REQUEST",
    "VERSION_MISMATCH",
    "NOT_READY",
    "NO_SUCH_CLIENT",
    "TOO_LARGE",
    "RECIPIENT_SLOW",
    "RECIPIENT_LEFT",
    "SERVER_FULL",
    "SHUTTING_DOWN",
    "INVALID_NICKNAME",
    "PROTOCOL_ERROR",
    "TIMEOUT",
    "AUTH_FAILED",
    "INTERNAL",
    "SERVER_BUSY",
    "RATE_LIMITED",
    "NICKNAME_IN_USE",
    "NICKNAME_REGISTERED",
    "ENCRYPTION_REQUIRED",
    "UNREACHABLE",
  };
  g_autofree char *contents = read_document ();
  const char *table = strstr (contents, "### 5.9 Status codes");
  g_autofree char *next_code = NULL;

  G_STATIC_ASSERT (G_N_ELEMENTS (names) == SC_STATUS_UNREACHABLE + 1);
  g_assert_nonnull (table);
  for (guint code = 0; code < G_N_ELEMENTS (names); code++)
    {
      g_autofree char *row =
        g_strdup_printf ("\n| %u | %s |", code, names[code]);

      if (strstr (table, row) == NULL)
        g_test_message ("5.9 lacks the row for %u %s", code, names[code]);
      g_assert_nonnull (strstr (table, row));
      g_assert_cmpstr (sc_status_to_string (code), !=, "unknown status");
    }
  next_code = g_strdup_printf ("\n| %u |", (guint) G_N_ELEMENTS (names));
  g_assert_null (strstr (table, next_code));
  g_assert_cmpstr (sc_status_to_string (G_N_ELEMENTS (names)), ==,
                   "unknown status");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/protocol-doc/examples-round-trip",
                   test_examples_round_trip);
  g_test_add_func ("/protocol-doc/every-type-has-example",
                   test_every_type_has_example);
  g_test_add_func ("/protocol-doc/numbers-agree", test_numbers_agree);
  g_test_add_func ("/protocol-doc/flags-agree", test_flags_agree);
  g_test_add_func ("/protocol-doc/status-table", test_status_table);
  return g_test_run ();
}

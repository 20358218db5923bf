/* sc-terminal-text.c: neutralising control and format characters, and
 * marking continuation lines. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sc-terminal-text.h"

/* Line breaks other than LF that a terminal or a reader may honour:
 * CR, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR, and also VT and FF. */
static gboolean
is_line_break (gunichar c)
{
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x85 ||
         c == 0x2028 || c == 0x2029;
}

/* Appends @c as the terminal may show it. */
static void
append_safe (GString *out, gunichar c)
{
  if (c == '\t')
    g_string_append_c (out, ' ');
  else if (g_unichar_iscntrl (c) || is_line_break (c))
    g_string_append_unichar (out, 0xFFFD);
  else if (g_unichar_type (c) == G_UNICODE_FORMAT)
    g_string_append_printf (out, "\\u%04X", c);
  else
    g_string_append_unichar (out, c);
}

/* Text that is not UTF-8 keeps its printable ASCII only. */
static char *
sanitize_bytes (const char *text)
{
  char *copy = g_strdup (text);

  for (char *q = copy; *q; q++)
    if ((guchar) *q < 0x20 || (guchar) *q >= 0x7f)
      *q = '?';
  return copy;
}

static char *
sanitize (const char *text, gboolean keep_lines)
{
  GString *out;

  if (text == NULL)
    return g_strdup ("");
  if (!g_utf8_validate (text, -1, NULL))
    return sanitize_bytes (text);
  out = g_string_sized_new (strlen (text));
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      /* CR LF is one break. */
      if (keep_lines && c == '\r' && p[1] == '\n')
        continue;
      if (keep_lines && is_line_break (c))
        g_string_append_c (out, '\n');
      else
        append_safe (out, c);
    }
  return g_string_free (out, FALSE);
}

/* @text on one line: every line break becomes U+FFFD too.  For
 * nicknames, host names, reasons.  (transfer full) */
char *
sc_terminal_text_sanitize (const char *text)
{
  return sanitize (text, FALSE);
}

/* @text with its line breaks kept, as LF, and nothing else that moves
 * the cursor.  For message texts.  (transfer full) */
char *
sc_terminal_text_sanitize_lines (const char *text)
{
  return sanitize (text, TRUE);
}

static guint
char_width (gunichar c)
{
  if (g_unichar_iszerowidth (c))
    return 0;
  return g_unichar_iswide (c) ? 2 : 1;
}

/* The columns @text (sanitized, one line) takes on a terminal. */
gsize
sc_terminal_text_width (const char *text)
{
  gsize width = 0;

  g_return_val_if_fail (text != NULL, 0);

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    width += char_width (g_utf8_get_char (p));
  return width;
}

/* Appends one line of @text, cut into pieces of at most @columns
 * (0: no limit), each piece after the first on a new line after the
 * marker. */
static void
append_wrapped (GString *out, const char *line, guint columns, gboolean first)
{
  guint marker = strlen (SC_TERMINAL_TEXT_MARKER);
  guint used;

  if (!first)
    g_string_append (out, "\n" SC_TERMINAL_TEXT_MARKER);
  used = first ? 0 : marker;
  for (const char *p = line; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      guint width = char_width (c);

      /* A narrow terminal still gets one character a line past the
       * marker. */
      if (columns > 0 && used + width > columns && used > marker)
        {
          g_string_append (out, "\n" SC_TERMINAL_TEXT_MARKER);
          used = marker;
        }
      g_string_append_unichar (out, c);
      used += width;
    }
}

/* @text (sanitized, with LF line breaks) as printed lines: every line
 * after the first, whether the text broke it or it would pass @columns
 * (0: the width is unknown; only the text's own breaks count), starts
 * with SC_TERMINAL_TEXT_MARKER.  (transfer full) */
char *
sc_terminal_text_wrap (const char *text, guint columns)
{
  g_auto (GStrv) lines = NULL;
  GString *out;

  g_return_val_if_fail (text != NULL, NULL);

  /* The marker must leave room for text. */
  if (columns > 0 && columns <= strlen (SC_TERMINAL_TEXT_MARKER) + 1)
    columns = strlen (SC_TERMINAL_TEXT_MARKER) + 2;
  lines = g_strsplit (text, "\n", -1);
  out = g_string_sized_new (strlen (text) + 16);
  for (guint i = 0; lines[i] != NULL; i++)
    append_wrapped (out, lines[i], columns, i == 0);
  return g_string_free (out, FALSE);
}

/* The width of the terminal on @fd, when it is one; else $COLUMNS when
 * set (so that "COLUMNS=80 sockchat-cli | less" wraps too); else 0. */
guint
sc_terminal_text_columns (int fd)
{
  struct winsize size;
  const char *columns = g_getenv ("COLUMNS");
  guint64 value;

  if (isatty (fd) && ioctl (fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
    return size.ws_col;
  if (columns != NULL &&
      g_ascii_string_to_unsigned (columns, 10, 1, 10000, &value, NULL))
    return (guint) value;
  return 0;
}

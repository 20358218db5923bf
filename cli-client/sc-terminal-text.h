/* sc-terminal-text.h: text from the network made safe to print on a
 * terminal.
 *
 * What other people send must not be able to move the cursor, change
 * colours, reorder what is shown around it or fake a line of the
 * client's own output.  Control characters (C0, DEL, C1, so every escape
 * sequence) become U+FFFD; invisible format characters (Unicode Cf: bidi
 * embeddings, overrides and isolates, zero-width characters, the BOM)
 * are shown as escapes such as "\u202E"; a message's own line breaks and
 * the lines a narrow terminal would wrap it into start with a
 * continuation marker, so that no part of a message can pass for a new
 * "Message from client ..." line.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Starts every continuation line of a message. */
#define SC_TERMINAL_TEXT_MARKER "  | "

char *sc_terminal_text_sanitize (const char *text);
char *sc_terminal_text_sanitize_lines (const char *text);
gsize sc_terminal_text_width (const char *text);
char *sc_terminal_text_wrap (const char *text, guint columns);
guint sc_terminal_text_columns (int fd);

G_END_DECLS

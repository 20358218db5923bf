/* sc-cli-output.h: the terminal of sockchat-cli.  Reads one answer at a
 * time from standard input and prints lines without corrupting the one
 * being typed: through GNU readline's callback interface on a terminal,
 * as plain lines otherwise. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define SC_TYPE_CLI_OUTPUT (sc_cli_output_get_type ())
G_DECLARE_FINAL_TYPE (ScCliOutput, sc_cli_output, SC, CLI_OUTPUT, GObject)

ScCliOutput *sc_cli_output_new (gboolean interactive);
gboolean sc_cli_output_is_interactive (ScCliOutput *self);
void sc_cli_output_read_line (ScCliOutput *self, const char *prompt);
void sc_cli_output_set_prompt (ScCliOutput *self, const char *prompt);
gboolean sc_cli_output_is_reading (ScCliOutput *self);
void sc_cli_output_print (ScCliOutput *self, const char *format, ...)
  G_GNUC_PRINTF (2, 3);
void sc_cli_output_close (ScCliOutput *self);
char *sc_cli_output_sanitize (const char *text);

G_END_DECLS

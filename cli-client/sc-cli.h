/* sc-cli.h: the menu of sockchat-cli: a state machine that reads one
 * answer at a time, runs the chosen action on an ScClient and prints
 * what the server says. */
#pragma once

#include <glib-object.h>

#include "sc-cli-output.h"
#include "sc-client.h"

G_BEGIN_DECLS

#define SC_TYPE_CLI (sc_cli_get_type ())
G_DECLARE_FINAL_TYPE (ScCli, sc_cli, SC, CLI, GObject)

#define SC_CLI_DEFAULT_HOST "127.0.0.1"

ScCli *sc_cli_new (ScClient *client, ScCliOutput *output);
void sc_cli_set_defaults (ScCli *self,
                          const char *host,
                          guint16 port,
                          const char *nickname);
void sc_cli_start (ScCli *self, gboolean connect_now);
void sc_cli_quit (ScCli *self);
gboolean sc_cli_is_finished (ScCli *self);

G_END_DECLS

/* sc-cli-private.h: shared by sc-cli.c (the menu, prompts and requests)
 * and sc-cli-indications.c (what the server says unasked). */
#pragma once

#include "sc-cli.h"

G_BEGIN_DECLS

/* What the next line of input answers. */
typedef enum
{
  SC_CLI_STEP_IDLE,      /* not started */
  SC_CLI_STEP_CHOICE,    /* the menu */
  SC_CLI_STEP_HOST,      /* Connect: the server address */
  SC_CLI_STEP_PORT,      /* Connect: the port */
  SC_CLI_STEP_NICKNAME,  /* Connect: the nickname */
  SC_CLI_STEP_RECIPIENT, /* Send: the client number */
  SC_CLI_STEP_TEXT,      /* Send: the message */
  SC_CLI_STEP_TRUST,     /* Connect: trust a certificate seen first? */
  SC_CLI_STEP_BUSY,      /* waiting for the server; input is not read */
  SC_CLI_STEP_DONE,      /* exited */
} ScCliStep;

struct _ScCli
{
  GObject parent_instance;

  ScClient *client;
  ScCliOutput *output;
  GCancellable *cancellable;
  GArray *handlers; /* signal handler ids on client */

  ScCliStep step;
  gboolean quit_requested; /* exit once the connection attempt ends */
  gboolean menu_connected; /* the menu on screen is the connected one */

  char *host; /* default answers: the last ones that worked */
  guint16 port;
  char *nickname;

  char *connect_host; /* answers being collected */
  guint16 connect_port;
  char *trust_host; /* a TLS server whose new certificate is shown */
  guint16 trust_port;
  char *trust_fingerprint;
  guint32 recipient;
  gboolean to_everyone;
};

void sc_cli_show_menu (ScCli *self);
void sc_cli_print_menu (ScCli *self);
char *sc_cli_format_menu (ScCli *self);
const char *sc_cli_choice_prompt (ScCli *self);
void sc_cli_connect_indications (ScCli *self);
char *sc_cli_format_endpoint (const char *address, guint16 port);

G_END_DECLS

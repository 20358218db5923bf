/* main.c: the sockchat desktop client. */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-application.h"
#include "sc-i18n.h"

int
main (int argc, char *argv[])
{
  g_autoptr (ScApplication) app = NULL;

  sc_i18n_init ();

  app = sc_application_new (APPLICATION_ID, G_APPLICATION_HANDLES_COMMAND_LINE);
  return g_application_run (G_APPLICATION (app), argc, argv);
}

/* sc-i18n.c: locale and message catalogs. */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "sc-i18n.h"

/* Catalogs come from the install prefix, or from SOCKCHAT_LOCALEDIR so
 * that tests and screenshots can use the ones in a build tree. */
void
sc_i18n_init (void)
{
  const char *localedir = g_getenv ("SOCKCHAT_LOCALEDIR");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE,
                  localedir && *localedir ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

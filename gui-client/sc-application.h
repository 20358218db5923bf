/* sc-application.h: the GtkApplication of the desktop client: command
 * line, accelerators, app.quit and one ScWindow per invocation. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SC_TYPE_APPLICATION (sc_application_get_type ())
G_DECLARE_FINAL_TYPE (
  ScApplication, sc_application, SC, APPLICATION, GtkApplication)

ScApplication *sc_application_new (const char *application_id,
                                   GApplicationFlags flags);

G_END_DECLS

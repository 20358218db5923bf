/* sc-window.h: the main window of the desktop client, one connection
 * (an ScClient) per window. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SC_TYPE_WINDOW (sc_window_get_type ())
G_DECLARE_FINAL_TYPE (ScWindow, sc_window, SC, WINDOW, GtkApplicationWindow)

ScWindow *sc_window_new (GtkApplication *application);
void sc_window_set_tls (ScWindow *self, gboolean tls);
void sc_window_set_server (ScWindow *self,
                           const char *host,
                           guint port,
                           const char *nickname);
void sc_window_connect (ScWindow *self);
void sc_window_open_conversation (ScWindow *self, const char *key);
void sc_window_run_demo_script (ScWindow *self, const char *path);

G_END_DECLS

/* sc-preferences.h: the Preferences dialog, bound to the application's
 * GSettings. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SC_TYPE_PREFERENCES (sc_preferences_get_type ())
G_DECLARE_FINAL_TYPE (ScPreferences, sc_preferences, SC, PREFERENCES, GtkDialog)

GtkWidget *sc_preferences_new (GtkWindow *parent);
GtkSpinButton *sc_preferences_get_log_lines_spin (ScPreferences *self);
GtkSwitch *sc_preferences_get_notify_switch (ScPreferences *self);

G_END_DECLS

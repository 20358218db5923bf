/* sc-preferences.c: the Preferences dialog.  Each control is bound to its
 * GSettings key, so a change applies at once to every window. */
#include "config.h"

#include "sc-preferences.h"
#include "sc-window-private.h"

#define RESOURCE_PATH "/io/github/sockchat/SockChat/ui/sc-preferences.ui"

struct _ScPreferences
{
  GtkDialog parent_instance;

  GtkSpinButton *log_lines_spin;
  GtkSwitch *notify_switch;
  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (ScPreferences, sc_preferences, GTK_TYPE_DIALOG)

/* A number typed into the spin button reaches the setting only once it
 * is committed; closing the dialog commits it, as Enter would. */
static void
on_response (GtkDialog *dialog, int response, gpointer unused)
{
  ScPreferences *self = SC_PREFERENCES (dialog);

  gtk_spin_button_update (self->log_lines_spin);
  gtk_widget_destroy (GTK_WIDGET (dialog));
}

GtkWidget *
sc_preferences_new (GtkWindow *parent)
{
  return g_object_new (SC_TYPE_PREFERENCES, "transient-for", parent,
                       "use-header-bar", TRUE, NULL);
}

GtkSpinButton *
sc_preferences_get_log_lines_spin (ScPreferences *self)
{
  g_return_val_if_fail (SC_IS_PREFERENCES (self), NULL);
  return self->log_lines_spin;
}

GtkSwitch *
sc_preferences_get_notify_switch (ScPreferences *self)
{
  g_return_val_if_fail (SC_IS_PREFERENCES (self), NULL);
  return self->notify_switch;
}

static void
sc_preferences_dispose (GObject *object)
{
  ScPreferences *self = SC_PREFERENCES (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (sc_preferences_parent_class)->dispose (object);
}

static void
sc_preferences_class_init (ScPreferencesClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = sc_preferences_dispose;
  sc_window_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PATH);
  gtk_widget_class_bind_template_child (widget_class, ScPreferences,
                                        log_lines_spin);
  gtk_widget_class_bind_template_child (widget_class, ScPreferences,
                                        notify_switch);
  gtk_widget_class_bind_template_callback (widget_class, on_response);
}

static void
sc_preferences_init (ScPreferences *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (APPLICATION_ID);
  g_settings_bind (self->settings, "log-lines", self->log_lines_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "notify", self->notify_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
}

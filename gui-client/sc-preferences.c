/* sc-preferences.c: the Preferences dialog.  Each control is bound to its
 * GSettings key, so a change applies at once to every window. */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-preferences.h"
#include "sc-window-private.h"

#define RESOURCE_PATH "/io/github/sockchat/SockChat/ui/sc-preferences.ui"

struct _ScPreferences
{
  GtkDialog parent_instance;

  GtkSpinButton *log_lines_spin;
  GtkSwitch *notify_switch;
  GtkSwitch *history_switch;
  GtkSpinButton *history_limit_spin;
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
  gtk_spin_button_update (self->history_limit_spin);
  gtk_widget_destroy (GTK_WIDGET (dialog));
}

static void
on_clear_confirmed (GtkDialog *confirm, int response, ScPreferences *self)
{
  gtk_widget_destroy (GTK_WIDGET (confirm));
  if (response == GTK_RESPONSE_ACCEPT)
    g_action_group_activate_action (
      G_ACTION_GROUP (g_application_get_default ()), "clear-history", NULL);
}

/* Deleting every conversation is asked about once more. */
static void
on_clear_history_clicked (ScPreferences *self, GtkButton *button)
{
  GtkWidget *confirm = gtk_message_dialog_new (
    GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
    GTK_MESSAGE_WARNING, GTK_BUTTONS_NONE, "%s",
    _ ("Delete the history of every conversation?"));

  gtk_message_dialog_format_secondary_text (
    GTK_MESSAGE_DIALOG (confirm), "%s",
    _ ("Conversations open now are emptied too. This cannot be undone."));
  gtk_dialog_add_buttons (GTK_DIALOG (confirm), _ ("_Cancel"),
                          GTK_RESPONSE_CANCEL, _ ("_Delete History"),
                          GTK_RESPONSE_ACCEPT, NULL);
  gtk_style_context_add_class (
    gtk_widget_get_style_context (gtk_dialog_get_widget_for_response (
      GTK_DIALOG (confirm), GTK_RESPONSE_ACCEPT)),
    "destructive-action");
  g_signal_connect (confirm, "response", G_CALLBACK (on_clear_confirmed), self);
  gtk_window_present (GTK_WINDOW (confirm));
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
  gtk_widget_class_bind_template_child (widget_class, ScPreferences,
                                        history_switch);
  gtk_widget_class_bind_template_child (widget_class, ScPreferences,
                                        history_limit_spin);
  gtk_widget_class_bind_template_callback (widget_class,
                                           on_clear_history_clicked);
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
  g_settings_bind (self->settings, "history-enabled", self->history_switch,
                   "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "history-limit", self->history_limit_spin,
                   "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "history-enabled", self->history_limit_spin,
                   "sensitive", G_SETTINGS_BIND_GET);
}

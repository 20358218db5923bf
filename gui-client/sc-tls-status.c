/* sc-tls-status.c: see sc-tls-status.h.
 *
 * The window trusts a certificate seen for the first time without asking
 * (sc_client_set_trust_new()), and says so in an info bar that shows the
 * fingerprint to compare with the one the operator published; a
 * certificate that differs from the remembered one is refused by the
 * client core, and the window must not retry it in a loop
 * (sc_tls_status_error_is_final()). */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-protocol.h"
#include "sc-tls-status.h"
#include "sc-tls.h"

struct _ScTlsStatus
{
  GObject parent_instance;

  ScClient *client;
  GSettings *settings;
  GtkSpinButton *port_spin; /* the window's */
  GtkWidget *check;         /* owned by the connect form once attached */
  GtkWidget *lock;          /* owned by the status bar */
  GtkWidget *lock_label;
  GtkWidget *info_bar; /* owned by the window's box */
  GtkWidget *info_label;
};

G_DEFINE_FINAL_TYPE (ScTlsStatus, sc_tls_status, G_TYPE_OBJECT)

/* The first 8 bytes of a fingerprint, for the status bar. */
static char *
short_fingerprint (const char *fingerprint)
{
  return g_strndup (fingerprint, MIN (strlen (fingerprint), 23));
}

static void
update (ScTlsStatus *self)
{
  ScClientState state = sc_client_get_state (self->client);
  ScTlsTrust trust = sc_client_get_tls_trust (self->client);
  const char *fingerprint = sc_client_get_tls_fingerprint (self->client);
  g_autofree char *tooltip = NULL;
  g_autofree char *label = NULL;
  g_autofree char *brief = NULL;

  if (self->check)
    gtk_widget_set_sensitive (self->check,
                              state == SC_CLIENT_STATE_DISCONNECTED);
  if (self->lock == NULL)
    return;
  if (trust == SC_TLS_TRUST_NONE || fingerprint == NULL)
    {
      gtk_widget_hide (self->lock);
      if (state != SC_CLIENT_STATE_CONNECTED)
        gtk_widget_hide (self->info_bar);
      return;
    }
  brief = short_fingerprint (fingerprint);
  /* Translators: the start of the server certificate's SHA-256
   * fingerprint follows. */
  label = g_strdup_printf (_ ("TLS %s…"), brief);
  gtk_label_set_text (GTK_LABEL (self->lock_label), label);
  tooltip = g_strdup_printf (
    "%s\n%s\nSHA-256 %s", _ ("Encrypted with TLS"),
    trust == SC_TLS_TRUST_AUTHORITY
      ? _ ("The certificate is signed by an authority this system trusts.")
    : trust == SC_TLS_TRUST_REMEMBERED
      ? _ ("The certificate is the one remembered for this server.")
      : _ ("The certificate was seen for the first time and is now "
           "remembered."),
    fingerprint);
  gtk_widget_set_tooltip_text (self->lock, tooltip);
  gtk_widget_show (self->lock);
  if (trust == SC_TLS_TRUST_FIRST_USE)
    {
      g_autofree char *text = g_strdup_printf (
        _ ("First connection to this server over TLS: its certificate is "
           "now remembered. Compare its SHA-256 fingerprint with the one "
           "the server's operator published:\n%s"),
        fingerprint);

      gtk_label_set_text (GTK_LABEL (self->info_label), text);
      gtk_widget_show (self->info_bar);
    }
}

/* The usual ports follow the check box, unless the user chose another. */
static void
on_tls_changed (ScTlsStatus *self)
{
  gboolean tls = g_settings_get_boolean (self->settings, "tls");
  guint port;

  sc_client_set_tls (self->client, tls);
  if (self->port_spin == NULL)
    return;
  port = (guint) gtk_spin_button_get_value_as_int (self->port_spin);
  if (tls && port == SC_DEFAULT_PORT)
    gtk_spin_button_set_value (self->port_spin, SC_TLS_DEFAULT_PORT);
  else if (!tls && port == SC_TLS_DEFAULT_PORT)
    gtk_spin_button_set_value (self->port_spin, SC_DEFAULT_PORT);
}

/* As the check box does; the port follows at once, so that a connection
 * started right after (sockchat --tls --connect) uses it. */
void
sc_tls_status_set_tls (ScTlsStatus *self, gboolean tls)
{
  g_return_if_fail (SC_IS_TLS_STATUS (self));
  g_settings_set_boolean (self->settings, "tls", tls);
  on_tls_changed (self);
}

ScTlsStatus *
sc_tls_status_new (ScClient *client, GSettings *settings)
{
  ScTlsStatus *self = g_object_new (SC_TYPE_TLS_STATUS, NULL);

  self->client = g_object_ref (client);
  self->settings = g_object_ref (settings);
  sc_client_set_trust_new (client, TRUE);
  sc_client_set_tls (client, g_settings_get_boolean (settings, "tls"));
  g_signal_connect_object (settings, "changed::tls",
                           G_CALLBACK (on_tls_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::state", G_CALLBACK (update), self,
                           G_CONNECT_SWAPPED);
  return self;
}

static void
on_info_response (GtkInfoBar *bar, int response, gpointer data)
{
  gtk_widget_hide (GTK_WIDGET (bar));
}

/* Puts the check box after @port_spin, the lock before @status_label and
 * the first-use info bar after @info_bar, each in its parent box. */
void
sc_tls_status_attach (ScTlsStatus *self,
                      GtkSpinButton *port_spin,
                      GtkWidget *status_label,
                      GtkWidget *info_bar)
{
  GtkWidget *parent;
  GtkWidget *icon;
  int position;

  g_return_if_fail (SC_IS_TLS_STATUS (self));

  self->port_spin = port_spin;
  self->check = gtk_check_button_new_with_mnemonic (_ ("T_LS"));
  gtk_widget_set_tooltip_text (
    self->check, _ ("Connect over TLS and check the server's certificate"));
  g_settings_bind (self->settings, "tls", self->check, "active",
                   G_SETTINGS_BIND_DEFAULT);
  parent = gtk_widget_get_parent (GTK_WIDGET (port_spin));
  gtk_box_pack_start (GTK_BOX (parent), self->check, FALSE, FALSE, 0);
  gtk_widget_show (self->check);

  self->lock = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  icon = gtk_image_new_from_icon_name ("channel-secure-symbolic",
                                       GTK_ICON_SIZE_MENU);
  self->lock_label = gtk_label_new (NULL);
  gtk_label_set_selectable (GTK_LABEL (self->lock_label), FALSE);
  gtk_container_add (GTK_CONTAINER (self->lock), icon);
  gtk_container_add (GTK_CONTAINER (self->lock), self->lock_label);
  gtk_widget_show (icon);
  gtk_widget_show (self->lock_label);
  parent = gtk_widget_get_parent (status_label);
  gtk_container_child_get (GTK_CONTAINER (parent), status_label, "position",
                           &position, NULL);
  gtk_box_pack_start (GTK_BOX (parent), self->lock, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (parent), self->lock, position);

  self->info_bar = gtk_info_bar_new ();
  gtk_info_bar_set_message_type (GTK_INFO_BAR (self->info_bar),
                                 GTK_MESSAGE_INFO);
  gtk_info_bar_set_show_close_button (GTK_INFO_BAR (self->info_bar), TRUE);
  self->info_label = gtk_label_new (NULL);
  gtk_label_set_line_wrap (GTK_LABEL (self->info_label), TRUE);
  gtk_label_set_selectable (GTK_LABEL (self->info_label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->info_label), 0);
  gtk_widget_show (self->info_label);
  gtk_container_add (GTK_CONTAINER (gtk_info_bar_get_content_area (
                       GTK_INFO_BAR (self->info_bar))),
                     self->info_label);
  g_signal_connect (self->info_bar, "response", G_CALLBACK (on_info_response),
                    NULL);
  parent = gtk_widget_get_parent (info_bar);
  gtk_container_child_get (GTK_CONTAINER (parent), info_bar, "position",
                           &position, NULL);
  gtk_box_pack_start (GTK_BOX (parent), self->info_bar, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (parent), self->info_bar, position + 1);
  update (self);
}

/* A refusal that trying again cannot mend: the certificate changed (or
 * is not trusted).  The window reports it and does not reconnect. */
gboolean
sc_tls_status_error_is_final (const GError *error)
{
  return g_error_matches (error, SC_ERROR, SC_ERROR_TLS_CERTIFICATE_CHANGED) ||
         g_error_matches (error, SC_ERROR, SC_ERROR_TLS_UNKNOWN_CERTIFICATE);
}

GtkToggleButton *
sc_tls_status_get_check_button (ScTlsStatus *self)
{
  g_return_val_if_fail (SC_IS_TLS_STATUS (self), NULL);
  return GTK_TOGGLE_BUTTON (self->check);
}

GtkWidget *
sc_tls_status_get_lock (ScTlsStatus *self)
{
  g_return_val_if_fail (SC_IS_TLS_STATUS (self), NULL);
  return self->lock;
}

GtkWidget *
sc_tls_status_get_first_use_bar (ScTlsStatus *self)
{
  g_return_val_if_fail (SC_IS_TLS_STATUS (self), NULL);
  return self->info_bar;
}

const char *
sc_tls_status_get_first_use_text (ScTlsStatus *self)
{
  g_return_val_if_fail (SC_IS_TLS_STATUS (self), NULL);
  return gtk_label_get_text (GTK_LABEL (self->info_label));
}

static void
sc_tls_status_dispose (GObject *object)
{
  ScTlsStatus *self = SC_TLS_STATUS (object);

  if (self->client)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (sc_tls_status_parent_class)->dispose (object);
}

static void
sc_tls_status_class_init (ScTlsStatusClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = sc_tls_status_dispose;
}

static void
sc_tls_status_init (ScTlsStatus *self)
{
}

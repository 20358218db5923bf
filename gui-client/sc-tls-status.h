/* sc-tls-status.h: the window's TLS controls, kept apart from the
 * window itself: the "TLS" check box of the connect form (bound to the
 * "tls" setting), the lock with the server certificate's fingerprint
 * next to the status text, and an info bar that shows the fingerprint
 * when a server's certificate was trusted on first use. */
#pragma once

#include <gtk/gtk.h>

#include "sc-client.h"

G_BEGIN_DECLS

#define SC_TYPE_TLS_STATUS (sc_tls_status_get_type ())
G_DECLARE_FINAL_TYPE (ScTlsStatus, sc_tls_status, SC, TLS_STATUS, GObject)

ScTlsStatus *sc_tls_status_new (ScClient *client, GSettings *settings);
void sc_tls_status_attach (ScTlsStatus *self,
                           GtkSpinButton *port_spin,
                           GtkWidget *status_label,
                           GtkWidget *info_bar);
void sc_tls_status_set_tls (ScTlsStatus *self, gboolean tls);
gboolean sc_tls_status_error_is_final (const GError *error);

/* For tests: the widgets it added. */
GtkToggleButton *sc_tls_status_get_check_button (ScTlsStatus *self);
GtkWidget *sc_tls_status_get_lock (ScTlsStatus *self);
GtkWidget *sc_tls_status_get_first_use_bar (ScTlsStatus *self);
const char *sc_tls_status_get_first_use_text (ScTlsStatus *self);

G_END_DECLS

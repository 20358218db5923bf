/* sc-i18n.h: the locale and gettext set-up every program's main() does. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void sc_i18n_init (void);

G_END_DECLS

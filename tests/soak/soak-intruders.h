/* soak-intruders.h: the soak's unwelcome connections, in a thread of
 * their own: silent connections that never say HELLO (the server closes
 * them for the hello timeout or the pending bounds, and each is replaced),
 * and a password guesser, from one address and from several. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint16 port;
  guint n_silent;           /* silent connections kept open */
  guint n_silent_addresses; /* spread over 127.4.0.1 and up */
  guint n_guessers;         /* concurrent guesses, half from 127.2.0.1 */
  guint n_guess_addresses;  /* the other half from 127.2.1.1 and up */
  guint open_rate;          /* per second, at most: silent ones; guesses */
} SoakIntrudersOptions;

typedef struct _SoakIntruders SoakIntruders;

SoakIntruders *soak_intruders_start (const SoakIntrudersOptions *options);
void soak_intruders_stop (SoakIntruders *intruders);
gboolean soak_intruders_report (SoakIntruders *intruders, double seconds);
void soak_intruders_free (SoakIntruders *intruders);

G_END_DECLS

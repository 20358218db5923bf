/* sc-auth-failures.h: password attempts, counted per address and in
 * total, so that guessing stays slow however many connections and
 * addresses the guesser uses (docs/RELIABILITY.md, "Password guessing").
 *
 * A HELLO on a server with a password is an attempt.  It is admitted (or
 * refused unchecked) when it arrives, with the time at which it will be
 * answered; the password is checked and the outcome reported when that
 * time comes, so the answer's timing never depends on the outcome.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ScAuthFailures ScAuthFailures;

typedef enum
{
  SC_AUTH_ADMITTED,     /* check and answer after the delay given */
  SC_AUTH_BUSY_ADDRESS, /* too many attempts from the address under way */
  SC_AUTH_BUSY,         /* too many attempts under way, or queued */
} ScAuthAdmission;

typedef enum
{
  SC_AUTH_SUCCEEDED, /* the password was right: the address is forgiven */
  SC_AUTH_FAILED,    /* it was wrong: the address is more suspect */
  SC_AUTH_ABANDONED, /* the client left before the answer: not checked */
} ScAuthOutcome;

/* Attempts under way at once, from one address and in total. */
#define SC_AUTH_MAX_ATTEMPTS_PER_ADDRESS 2
#define SC_AUTH_MAX_ATTEMPTS             32
/* Password checks per second, and the burst, for addresses with no recent
 * failure and no attempt under way ("clean") and for the others
 * ("suspect"); an attempt is refused rather than queued for longer than
 * the horizon. */
#define SC_AUTH_CLEAN_INTERVAL_MS   500
#define SC_AUTH_CLEAN_BURST         4
#define SC_AUTH_CLEAN_HORIZON_MS    3000
#define SC_AUTH_SUSPECT_INTERVAL_MS 1000
#define SC_AUTH_SUSPECT_BURST       2
#define SC_AUTH_SUSPECT_HORIZON_MS  8000

/* What sc_auth_failures_begin() decided, for sc_auth_failures_end(). */
typedef struct
{
  gboolean suspect; /* paced by the suspect bucket */
  gboolean counted; /* counted against its address's entry */
} ScAuthTicket;

ScAuthFailures *sc_auth_failures_new (void);
void sc_auth_failures_free (ScAuthFailures *failures);
ScAuthAdmission sc_auth_failures_begin (ScAuthFailures *failures,
                                        const char *address,
                                        gint64 now,
                                        guint *delay_ms,
                                        ScAuthTicket *ticket);
void sc_auth_failures_end (ScAuthFailures *failures,
                           const char *address,
                           const ScAuthTicket *ticket,
                           ScAuthOutcome outcome,
                           gint64 now);
guint sc_auth_failures_get_n_attempts (ScAuthFailures *failures);
guint sc_auth_failures_delay_ms (guint count);
gboolean sc_auth_password_matches (const char *expected, const char *given);

G_END_DECLS

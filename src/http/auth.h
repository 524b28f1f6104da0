/* auth: access control of the console and the API. [user NAME] sections (role, password_hash in
 * crypt(3) form), the [access] policy, login / logout / session routes, login rate limit and
 * lockout, and the access hook every API request goes through (roles, CSRF, cross-site POSTs). */
#ifndef SITEWATCH_AUTH_H
#define SITEWATCH_AUTH_H

#include "core/service.h"

/* Cookie names: the HttpOnly session id, and the CSRF token the page echoes in X-CSRF-Token. */
#define AUTH_COOKIE_SESSION "sw_session"
#define AUTH_COOKIE_CSRF "sw_csrf"
#define AUTH_CSRF_HEADER "X-CSRF-Token"

/* Parses role names "viewer" / "admin"; -EINVAL otherwise. */
int auth_role_parse(const char *s);
/* "none", "viewer", "admin". */
const char *auth_role_name(enum api_role r);
/* Checks password against a crypt(3) hash (yescrypt, sha512crypt ...), in constant time as far as
 * the comparison goes. */
bool auth_password_ok(const char *password, const char *hash);
/* Copies the value of cookie name from a Cookie header into buf; 0 or -ENOENT. */
int auth_cookie_get(const char *header, const char *name, char *buf, size_t len);

extern const struct service service_auth;

#endif

/* test_auth: sessions (random ids, expiry, capacity), cookies, password hashes, the access hook's
 * decisions through api_authorize, and the console's secret masking. */
#include "core/api.h"
#include "core/conf.h"
#include "core/store.h"
#include "core/util.h"
#include "http/auth.h"
#include "http/console.h"
#include "http/session.h"
#include "test.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

static void test_tokens_and_sessions(void)
{
    char a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1];
    TEST_CHECK(session_random_token(a) == 0 && session_random_token(b) == 0);
    TEST_EQ_LONG((long)strlen(a), SESSION_ID_LEN);
    TEST_CHECK(strcmp(a, b) != 0);
    TEST_CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               SESSION_ID_LEN);
    TEST_CHECK(session_equal("abc", "abc") && !session_equal("abc", "abd") &&
               !session_equal("abc", "ab") && !session_equal("", "a"));

    struct session_table *t = session_table_new(2, 300);
    struct session_info s1, s2, s3, got;
    TEST_CHECK(session_create(t, "ann", API_ROLE_ADMIN, &s1) == 0);
    TEST_CHECK(strcmp(s1.id, s1.csrf) != 0);
    TEST_CHECK(session_find(t, s1.id, &got) == 0 && got.role == API_ROLE_ADMIN);
    TEST_STREQ(got.user, "ann");
    TEST_CHECK(session_find(t, "short", &got) != 0);
    char wrong[SESSION_ID_LEN + 1];
    memcpy(wrong, s1.id, sizeof(wrong));
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    TEST_CHECK(session_find(t, wrong, &got) != 0);
    util_sleep_ms(5);
    TEST_CHECK(session_create(t, "vic", API_ROLE_VIEWER, &s2) == 0);
    util_sleep_ms(5);
    /* Full: the oldest (ann's) goes. */
    TEST_CHECK(session_create(t, "bob", API_ROLE_VIEWER, &s3) == 0);
    TEST_CHECK(session_find(t, s1.id, &got) != 0);
    TEST_CHECK(session_find(t, s2.id, &got) == 0 && session_find(t, s3.id, &got) == 0);
    session_destroy(t, s2.id);
    TEST_CHECK(session_find(t, s2.id, &got) != 0);
    session_destroy_user(t, "bob");
    TEST_CHECK(session_find(t, s3.id, &got) != 0);
    /* Expiry after the table's ttl (300 ms). */
    TEST_CHECK(session_create(t, "ann", API_ROLE_ADMIN, &s1) == 0);
    TEST_CHECK(session_find(t, s1.id, &got) == 0);
    util_sleep_ms(350);
    TEST_CHECK(session_find(t, s1.id, &got) != 0);
    session_table_free(t);
    session_table_free(NULL);
}

static void test_cookies(void)
{
    char v[64];
    TEST_CHECK(auth_cookie_get("a=1; sw_session=XYZ; b=2", "sw_session", v, sizeof(v)) == 0);
    TEST_STREQ(v, "XYZ");
    TEST_CHECK(auth_cookie_get("sw_session=Q", "sw_session", v, sizeof(v)) == 0);
    TEST_STREQ(v, "Q");
    TEST_CHECK(auth_cookie_get("xsw_session=Q", "sw_session", v, sizeof(v)) != 0);
    TEST_CHECK(auth_cookie_get("sw_sessionx=Q", "sw_session", v, sizeof(v)) != 0);
    TEST_CHECK(auth_cookie_get("sw_session", "sw_session", v, sizeof(v)) != 0);
    TEST_CHECK(auth_cookie_get(";;; ;", "sw_session", v, sizeof(v)) != 0);
    TEST_CHECK(auth_cookie_get("sw_session=toolongvalue", "sw_session", v, 5) != 0);
    TEST_CHECK(auth_cookie_get("", "sw_session", v, sizeof(v)) != 0);
}

static void test_passwords(void)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    TEST_CHECK(crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) != NULL);
    const char *h = crypt_rn("s3cret pass", salt, &cd, sizeof(cd));
    TEST_CHECK(h && strncmp(h, "$y$", 3) == 0);
    char hash[256];
    util_strlcpy(hash, h, sizeof(hash));
    TEST_CHECK(auth_password_ok("s3cret pass", hash));
    TEST_CHECK(!auth_password_ok("s3cret pasS", hash));
    TEST_CHECK(!auth_password_ok("", hash));
    TEST_CHECK(!auth_password_ok("x", "not a hash"));
    TEST_CHECK(!auth_password_ok("x", "*"));
    /* sha512crypt works too (what older systems wrote). */
    h = crypt_rn("pw", "$6$saltsalt$", &cd, sizeof(cd));
    TEST_CHECK(h && auth_password_ok("pw", h));
    TEST_EQ_LONG(auth_role_parse("admin"), API_ROLE_ADMIN);
    TEST_EQ_LONG(auth_role_parse("viewer"), API_ROLE_VIEWER);
    TEST_CHECK(auth_role_parse("root") < 0);
}

static void test_config_and_masking(void)
{
    char err[512];
    struct conf *c = NULL;
    TEST_CHECK(conf_parse_string("t.conf", "[user ann]\nrole = boss\npassword_hash = $6$x$y\n", &c,
                                 err, sizeof(err)) != 0);
    TEST_CHECK(strstr(err, "t.conf:2") && strstr(err, "viewer or admin"));
    TEST_CHECK(conf_parse_string("t.conf", "[user ann]\nrole = admin\n", &c, err, sizeof(err)) !=
               0);
    TEST_CHECK(strstr(err, "password_hash") != NULL);
    TEST_CHECK(conf_parse_string("t.conf", "[user ann]\npassword_hash = plaintext\n", &c, err,
                                 sizeof(err)) != 0);
    TEST_CHECK(strstr(err, "t.conf:2") && strstr(err, "crypt"));
    TEST_CHECK(conf_parse_string("t.conf", "[access]\nsession_ttl = 12\n", &c, err, sizeof(err)) !=
               0);
    const char *ok = "[user ann]\nrole = admin\npassword_hash = "
                     "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq."
                     "qc.eoxqOmSuNp2xS0ktL3nh/\n[access]\nrequire_login = no\n";
    TEST_CHECK(conf_parse_string("t.conf", ok, &c, err, sizeof(err)) == 0);
    if (c) {
        json_t *j = console_config_json(c);
        char *text = json_dumps(j, 0);
        TEST_CHECK(text && strstr(text, "********") && !strstr(text, "saltsalt"));
        TEST_CHECK(text && strstr(text, "require_login"));
        free(text);
        json_decref(j);
        conf_free(c);
    }
    TEST_CHECK(console_key_secret("password_hash") && console_key_secret("smtp_password") &&
               console_key_secret("api_token") && !console_key_secret("listen"));
}

static const char *fake_header(void *req, const char *name)
{
    const char *const *h = req; /* {name, value, name, value, ..., NULL} */
    for (; h[0]; h += 2)
        if (strcmp(h[0], name) == 0)
            return h[1];
    return NULL;
}

static const char *no_arg(void *req, const char *name)
{
    (void)req;
    (void)name;
    return NULL;
}

static bool deny_all(void *actx, struct api_request *r, struct api_reply *out)
{
    (void)actx;
    (void)r;
    api_reply_error(out, 401, "no");
    return false;
}

/* The fail-closed gate: requests wait until access is decided, then follow the hook. */
static void test_access_gate(void)
{
    struct store *st = store_new(16, 4);
    struct api_ctx api;
    api_init(&api, st, "t");
    const char *hdr[] = {NULL};
    struct api_request r = {.method = "GET",
                            .path = "/api/v1/health",
                            .body = "",
                            .client = "x",
                            .arg = no_arg,
                            .header = fake_header,
                            .req = hdr};
    struct api_reply out;
    api_set_access(&api, NULL, NULL);
    TEST_CHECK(api_authorize(&api, &r, &out));
    api_set_access(&api, deny_all, NULL);
    TEST_CHECK(!api_authorize(&api, &r, &out) && out.status == 401);
    api_reply_free(&out);
    api_access_suspend(&api);
    api_set_access(&api, NULL, NULL);
    TEST_CHECK(api_authorize(&api, &r, &out));
    /* api_require_admin: admins and trusted loopback only. */
    r.role = API_ROLE_VIEWER;
    TEST_CHECK(!api_require_admin(&r, &out) && out.status == 403);
    api_reply_free(&out);
    r.role = API_ROLE_NONE;
    TEST_CHECK(!api_require_admin(&r, &out) && out.status == 401);
    api_reply_free(&out);
    r.from_loopback = true;
    TEST_CHECK(api_require_admin(&r, &out));
    r.from_loopback = false;
    r.role = API_ROLE_ADMIN;
    TEST_CHECK(api_require_admin(&r, &out));
    api_destroy(&api);
    store_free(st);
}

int main(void)
{
    TEST_RUN(test_tokens_and_sessions);
    TEST_RUN(test_cookies);
    TEST_RUN(test_passwords);
    TEST_RUN(test_config_and_masking);
    TEST_RUN(test_access_gate);
    return test_summary();
}

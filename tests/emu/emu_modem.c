/* emu_modem: a GSM modem on a pty speaking the AT commands of 3GPP TS 27.005 text mode: AT, ATE0/1,
 * AT+CPIN?, AT+CMGF=0/1, AT+CSCS, AT+CMGS="<number>" with the "> " prompt, the text up to Ctrl-Z
 * (ESC cancels), "+CMGS: <mr>" and OK. Each message sent is appended as one line
 * "<number>\t<text>" to the --log file (fsync'd), so a test sees exactly what went out.
 * --fail N answers the first N AT+CMGS texts with "+CMS ERROR: 38" (network out of order).
 * SIGUSR1 toggles a dead modem (no answer at all). */
#include "emu_modem.h"

#include "core/log.h"
#include "core/util.h"
#include "emu_port.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct emu_modem {
    struct emu_port *port;
    const char *log_path;
    long fail_left;
    bool echo, text_mode, in_text, dead;
    char number[64];
    char line[512];
    size_t nline;
    char text[1024];
    size_t ntext;
    unsigned mr;
};

static void modem_say(struct emu_modem *m, const char *s)
{
    (void)emu_port_write(m->port, (const uint8_t *)s, strlen(s));
}

static void modem_log_sms(struct emu_modem *m)
{
    if (!m->log_path)
        return;
    int fd = open(m->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char buf[1200];
    int n = snprintf(buf, sizeof(buf), "%s\t%.*s\n", m->number, (int)m->ntext, m->text);
    if (n > 0 && write(fd, buf, (size_t)n) == n)
        fsync(fd);
    close(fd);
}

/* One command line (without its CR). */
static void modem_command(struct emu_modem *m, const char *cmd)
{
    if (m->echo) {
        modem_say(m, cmd);
        modem_say(m, "\r");
    }
    if (strcmp(cmd, "AT") == 0 || strcmp(cmd, "ATZ") == 0) {
        modem_say(m, "\r\nOK\r\n");
    } else if (strcmp(cmd, "ATE0") == 0 || strcmp(cmd, "ATE1") == 0) {
        m->echo = cmd[3] == '1';
        modem_say(m, "\r\nOK\r\n");
    } else if (strcmp(cmd, "AT+CPIN?") == 0) {
        modem_say(m, "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    } else if (strcmp(cmd, "AT+CMGF=1") == 0 || strcmp(cmd, "AT+CMGF=0") == 0) {
        m->text_mode = cmd[8] == '1';
        modem_say(m, "\r\nOK\r\n");
    } else if (strncmp(cmd, "AT+CSCS=", 8) == 0) {
        modem_say(m, "\r\nOK\r\n");
    } else if (strncmp(cmd, "AT+CMGS=\"", 9) == 0 && cmd[strlen(cmd) - 1] == '"') {
        if (!m->text_mode) {
            modem_say(m, "\r\n+CMS ERROR: 304\r\n"); /* invalid PDU mode parameter */
            return;
        }
        size_t n = strlen(cmd) - 10;
        if (n == 0 || n >= sizeof(m->number)) {
            modem_say(m, "\r\n+CMS ERROR: 304\r\n");
            return;
        }
        memcpy(m->number, cmd + 9, n);
        m->number[n] = '\0';
        m->in_text = true;
        m->ntext = 0;
        modem_say(m, "\r\n> ");
    } else if (cmd[0]) {
        modem_say(m, "\r\nERROR\r\n");
    }
}

static void modem_byte(struct emu_modem *m, uint8_t c)
{
    if (m->in_text) {
        if (c == 0x1a) { /* Ctrl-Z: send */
            m->in_text = false;
            if (m->fail_left > 0) {
                m->fail_left--;
                modem_say(m, "\r\n+CMS ERROR: 38\r\n");
                return;
            }
            modem_log_sms(m);
            char buf[64];
            snprintf(buf, sizeof(buf), "\r\n+CMGS: %u\r\n\r\nOK\r\n", ++m->mr);
            modem_say(m, buf);
        } else if (c == 0x1b) { /* ESC: cancel */
            m->in_text = false;
            modem_say(m, "\r\nOK\r\n");
        } else if (m->ntext < sizeof(m->text)) {
            m->text[m->ntext++] = (char)c;
        }
        return;
    }
    if (c == '\r') {
        m->line[m->nline] = '\0';
        modem_command(m, m->line);
        m->nline = 0;
    } else if (c != '\n' && m->nline < sizeof(m->line) - 1) {
        m->line[m->nline++] = (char)c;
    }
}

int emu_modem_main(int argc, char **argv, const sigset_t *set)
{
    static const struct option opts[] = {
        {"pty",  required_argument, NULL, 'p'},
        {"log",  required_argument, NULL, 'l'},
        {"fail", required_argument, NULL, 'f'},
        {NULL,   0,                 NULL, 0  },
    };
    struct emu_modem m = {.echo = true};
    const char *pty = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'p')
            pty = optarg;
        else if (c == 'l')
            m.log_path = optarg;
        else if (c == 'f' && util_parse_long(optarg, 10, 0, 1000000, &m.fail_left) == 0)
            continue;
        else
            pty = NULL, optind = argc + 1;
    }
    if (!pty || optind > argc) {
        fprintf(stderr, "usage: sitewatch-emu modem --pty PATH [--log FILE] [--fail N]\n");
        return 2;
    }
    int r = emu_port_open_pty(pty, &m.port);
    if (r < 0) {
        log_msg(LOG_ERR, "modem: cannot create %s: %s", pty, strerror(-r));
        return 1;
    }
    printf("ready %s\n", emu_port_name(m.port));
    fflush(stdout);
    for (;;) {
        struct timespec zero = {0, 0};
        int sig = sigtimedwait(set, NULL, &zero);
        if (sig == SIGUSR1) {
            m.dead = !m.dead;
            log_msg(LOG_INFO, "SIGUSR1: modem %s", m.dead ? "dead" : "back");
        } else if (sig > 0) {
            break;
        }
        uint8_t buf[256];
        size_t got = 0;
        if (emu_port_read(m.port, buf, sizeof(buf), 100, &got) < 0)
            break;
        for (size_t i = 0; i < got && !m.dead; i++)
            modem_byte(&m, buf[i]);
    }
    emu_port_free(m.port);
    return 0;
}

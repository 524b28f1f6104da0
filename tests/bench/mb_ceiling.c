/* mb_ceiling: the benchmark's "ceiling" peer: the bare libmodbus select() loop of libmodbus'
 * own tests/bandwidth-server-many-up.c, serving a static mapping (registers 0..9999, value =
 * address) on 127.0.0.1:PORT for any unit id. Usage: mb_ceiling PORT. Runs until killed. */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mb_ceiling PORT\n");
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end || port < 1 || port > 65535)
        return 2;
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", (int)port);
    modbus_mapping_t *map = modbus_mapping_new(0, 0, 10000, 10000);
    if (!ctx || !map)
        return 1;
    for (int i = 0; i < 10000; i++)
        map->tab_registers[i] = map->tab_input_registers[i] = (uint16_t)i;
    int server = modbus_tcp_listen(ctx, 128);
    if (server < 0) {
        fprintf(stderr, "mb_ceiling: listen: %s\n", modbus_strerror(errno));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    fd_set refset;
    FD_ZERO(&refset);
    FD_SET(server, &refset);
    int fdmax = server;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    for (;;) {
        fd_set rdset = refset;
        if (select(fdmax + 1, &rdset, NULL, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (int fd = 0; fd <= fdmax; fd++) {
            if (!FD_ISSET(fd, &rdset))
                continue;
            if (fd == server) {
                int nfd = accept(server, NULL, NULL);
                if (nfd >= 0 && nfd < FD_SETSIZE) {
                    FD_SET(nfd, &refset);
                    if (nfd > fdmax)
                        fdmax = nfd;
                } else if (nfd >= 0) {
                    close(nfd);
                }
                continue;
            }
            modbus_set_socket(ctx, fd);
            int rc = modbus_receive(ctx, query);
            if (rc > 0) {
                modbus_reply(ctx, query, rc, map);
            } else if (rc < 0) {
                close(fd);
                FD_CLR(fd, &refset);
            }
        }
    }
}

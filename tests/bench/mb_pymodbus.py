#!/usr/bin/env python3
"""mb_pymodbus: the benchmark's pymodbus peer (Debian python3-pymodbus): a Modbus-TCP server with
the same static mapping as mb_ceiling (holding and input registers 0..9999, value = address) on
127.0.0.1:PORT. Usage: mb_pymodbus.py PORT. Prints 'ready' and serves until killed."""
import sys
import threading

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartTcpServer


def main():
    port = int(sys.argv[1])
    # pymodbus reads PDU address a from block index a + 1 (its "zero_mode" off quirk): pad one
    # register in front so that address a reads value a, like mb_ceiling.
    block = [0] + list(range(10000))
    slave = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, list(block)),
                               ir=ModbusSequentialDataBlock(0, list(block)))
    context = ModbusServerContext(slaves=slave, single=True)
    threading.Timer(1.0, lambda: (print("ready"), sys.stdout.flush())).start()
    StartTcpServer(context=context, address=("127.0.0.1", port))


if __name__ == "__main__":
    main()

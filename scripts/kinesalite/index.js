// Stands in for kinesalite's server (`require('..')` in its tests): `listen` starts kinesd on
// the port the suite picked and resolves once it accepts connections; `close` stops it.
// `{ssl: true}` puts kinesd's TLS listener (generated certificate) on that port instead.
'use strict'
const { spawn } = require('child_process')
const net = require('net')

module.exports = function kinesd(options) {
  const ssl = Boolean(options && options.ssl)
  let child
  return {
    listen(port, cb) {
      const ports = ssl ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)]
      child = spawn(process.env.KINESD_BIN, ['--in-memory', '--shard-limit', '50', ...ports],
        { stdio: ['ignore', 'ignore', 'inherit'] })
      let tries = 0
      const probe = () => {
        const s = net.connect(port, '127.0.0.1', () => { s.end(); cb() })
        s.on('error', () => (++tries > 200 ? cb(new Error('kinesd did not start')) : setTimeout(probe, 50)))
      }
      probe()
    },
    close(cb) {
      child.on('exit', () => cb())
      child.kill('SIGTERM')
    },
  }
}

// Command oidcfed is the single oidcfed binary: server and CLI.
package main

import (
	"os"

	"github.com/oidcfed/oidcfed/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}

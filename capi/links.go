package main

// What libpilot links in: every adaptor of this module, the serving of
// adaptor plugins' schemes, the in-process coordination server that the
// embedded default falls back to, Pilot-Data on other hosts over SFTP, and the serving of data plugins'
// Pilot-Data schemes. The core knows none of them; programs choose them by importing them.
import (
	_ "github.com/bigjob-go/bigjob/adaptors/builtin"
	_ "github.com/bigjob-go/bigjob/adaptors/pluginadaptor"
	_ "github.com/bigjob-go/bigjob/coord/embedded"
	_ "github.com/bigjob-go/bigjob/storage/pluginstore"
	_ "github.com/bigjob-go/bigjob/storage/sftpstore"
)

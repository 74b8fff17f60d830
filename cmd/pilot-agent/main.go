// Command pilot-agent is the agent that runs inside a pilot: resource
// adaptors start it on the resource. It reads its credentials (the
// coordination URL, which may hold a password, and the service's signing
// key; coord.Credentials) from the file named by -coordination-file, which it
// then removes, or else from the environment variable BIGJOB_COORDINATION,
// which it removes from its environment: never from the command line, where
// ps would show them.
//
//	pilot-agent -pilot bj-<uuid> -service pcs-<uuid> [-coordination-file F] [-walltime-margin 10s] [-mpirun LAUNCHER] [-hook SHA256]...
//	pilot-agent -store DIR
//	pilot-agent -store DIR -stop
//
// With -store it runs instead this user's lasting local coordination store
// in DIR (package coord/userstore), which the library starts when a script
// names a loopback Redis where nothing listens; it exits once the store has
// held no key for $BIGJOB_STORE_IDLE (default 10 min). With -stop as well, it
// stops that store now and waits until its supervisor has exited.
//
// Each -hook names a hook plugin by the sha256 of its manifest; the agent
// loads it from the coordination store and checks it against that digest.
// Exit status: 0 when the pilot ended normally, 1 on a startup error, 3 when
// it gave up after losing the coordination store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bigjob-go/bigjob/agent"
	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/coord/userstore"
	"github.com/bigjob-go/bigjob/internal/proc"
	_ "github.com/bigjob-go/bigjob/storage/sshcmd" // data units on other hosts, through the ssh command
)

func main() {
	// It outlives the process that started it (a script, for fork pilots):
	// it holds none of that process's inheritable pipes, nor do its units.
	proc.CloseInherited()
	pilot := flag.String("pilot", "", "pilot id, bj-<uuid>")
	service := flag.String("service", "", "service id, pcs-<uuid>")
	mpirun := flag.String("mpirun", "", "MPI launcher for spmd_variation mpi (default: the pilot description's mpi_launcher, else mpirun)")
	coordFile := flag.String("coordination-file", "", "file holding the coordination URL; removed once read")
	margin := flag.Duration("walltime-margin", 0, "end the pilot this long before its walltime (batch jobs)")
	var hooks hookList
	flag.Var(&hooks, "hook", "sha256 of a hook plugin's manifest, in the coordination store (repeatable, in order)")
	store := flag.String("store", "", "run this user's lasting local coordination store in this folder instead (the library starts it)")
	stopStore := flag.Bool("stop", false, "with -store: stop the store in that folder, if it runs, and wait until its supervisor has exited")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *store != "" && *stopStore {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := userstore.Stop(ctx, *store); err != nil {
			log.Error("stop the local coordination store", "err", err)
			os.Exit(1)
		}
		return
	}
	if *store != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		defer stop()
		if err := userstore.Supervise(ctx, *store, userstore.Idle(), log); err != nil {
			log.Error("local coordination store failed", "err", err)
			os.Exit(1)
		}
		return
	}
	if err := run(log, *pilot, *service, *mpirun, *coordFile, *margin, hooks); err != nil {
		log.Error("agent failed", "err", err)
		if errors.Is(err, agent.ErrStoreLost) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

func run(log *slog.Logger, pilot, service, mpirun, coordFile string, margin time.Duration, hooks []string) error {
	text := os.Getenv("BIGJOB_COORDINATION")
	os.Unsetenv("BIGJOB_COORDINATION")
	if coordFile != "" {
		b, err := os.ReadFile(coordFile)
		if err != nil {
			return fmt.Errorf("read the coordination file: %w", err)
		}
		os.Remove(coordFile)
		text = string(b)
	}
	if pilot == "" || service == "" || strings.TrimSpace(text) == "" {
		return fmt.Errorf("usage: BIGJOB_COORDINATION=<credentials> pilot-agent -pilot bj-<uuid> -service pcs-<uuid> (or -coordination-file F instead of the variable); services start agents")
	}
	cred, err := coord.DecodeCredentials(text)
	if err != nil {
		return err
	}
	addr, err := coord.ParseURL(cred.URL)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	store, err := dialRetry(dctx, addr)
	cancel()
	if err != nil {
		return err
	}
	defer store.Close()
	return agent.Run(ctx, agent.Config{
		Store:   store,
		Keys:    coord.ServiceKeys(service),
		PilotID: pilot,
		Key:     cred.Key,
		MPIRun:  mpirun,
		Logger:  log,
		Hooks:   hooks,

		WalltimeMargin: margin,
	})
}

// dialRetry connects, retrying while ctx allows: the store may be starting.
func dialRetry(ctx context.Context, addr coord.Address) (*coord.Store, error) {
	for {
		s, err := coord.Dial(ctx, addr, coord.Config{})
		if err == nil || ctx.Err() != nil {
			return s, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hookList collects repeated -hook flags.
type hookList []string

func (h *hookList) String() string { return strings.Join(*h, ",") }

func (h *hookList) Set(v string) error {
	if len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
		return fmt.Errorf("%q is not a sha256 in hex", v)
	}
	*h = append(*h, v)
	return nil
}

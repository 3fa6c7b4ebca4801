package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// namespace is the dev server's namespace that every benchmark runs in.
const namespace = "default"

// dial connects to the Temporal frontend at address.
func dial(ctx context.Context, address string) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  address,
		Namespace: namespace,
		Logger:    sdklog.NewStructuredLogger(quietLogger()),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", address, err)
	}
	return c, nil
}

// waitCommand returns once the frontend at --address answers and knows the namespace, retrying
// every 100 ms until --timeout.
func waitCommand(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("wait", flag.ContinueOnError)
	address := flags.String("address", "", "Temporal frontend host:port (required)")
	timeout := flags.Duration("timeout", time.Minute, "give up after this long")
	if err := flags.Parse(args); err != nil || *address == "" {
		return usageError{"wait --address HOST:PORT [--timeout D]"}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	begin := time.Now()
	var last error
	for {
		last = ping(ctx, *address)
		if last == nil {
			return writeJSON(stdout, map[string]any{"ready": true, "seconds": time.Since(begin).Seconds()})
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Temporal frontend at %s did not answer within %s: %w", *address, *timeout, errors.Join(ctx.Err(), last))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ping dials address once and describes the namespace.
func ping(ctx context.Context, address string) error {
	attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := dial(attempt, address)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WorkflowService().DescribeNamespace(attempt, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("describe namespace %q: %w", namespace, err)
	}
	return nil
}

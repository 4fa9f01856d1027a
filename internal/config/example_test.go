package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/erpconnector/erpconnector/internal/config"
)

func ExampleLoad() {
	// The command line passes os.Environ(); an override per key.
	f, err := config.Load("../../configs/demo.yaml", []string{"ERPCONNECTOR_LOG_LEVEL=debug"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := f.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	cfg := f.Connector() // what connector.New takes
	fmt.Println(f.LogLevel, cfg.ONe.BaseURL, cfg.Schedules.Feed)
	// Output: debug http://127.0.0.1:18080 */10 * * * * *
}

func ExampleFile_Validate() {
	dir, _ := os.MkdirTemp("", "config-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(path, []byte("log_level: loud\none: {base_url: 'https://one.example.com', api_key: k}\nerp: {adapter: ftp}\n"), 0o600)

	f, err := config.Load(path, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	var ce *config.Error
	if errors.As(f.Validate(), &ce) {
		for _, p := range ce.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// erp.adapter: must be sql or files
	// log_level: must be debug, info, warn or error
	// one.tenant: must not be empty
}

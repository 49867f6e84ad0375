package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/allot/allot/api"
	"github.com/allot/allot/persistence/pii"
)

// Guests' contacts on holds (docs/SECURITY.md, Personal data): whether the node accepts them
// and the data key ring that seals them.

// Contact modes (NodeConfig.Contacts).
const (
	// ContactsAuto accepts contacts when the node has a ring: --data-key-file, or the dev ring
	// of a single dev-mode node; otherwise a hold request with a contact is refused.
	ContactsAuto = "auto"
	// ContactsOn requires a ring: a node that would have none refuses to start.
	ContactsOn = "on"
	// ContactsOff refuses every hold request with a contact.
	ContactsOff = "off"
)

// devDataKeyName is the dev ring's file under DataDir, next to the dev signing key.
const devDataKeyName = "dev-data-keys"

// DevDataKeyFile is the data key ring a single dev-mode node keeps under dataDir when it is
// given no --data-key-file.
func DevDataKeyFile(dataDir string) string { return filepath.Join(dataDir, devDataKeyName) }

// devRing reports whether the node uses the dev ring: a single node in dev auth mode on the
// embedded store, without --data-key-file. A cluster member must be given the key file every
// node shares: a ring of its own would not open the contacts the others sealed.
func (c *NodeConfig) devRing() bool {
	return c.DataKeyFile == "" && c.Single() && c.Auth == AuthDev
}

// contactsEnabled reports whether the node accepts contacts (validateContacts has passed).
func (c *NodeConfig) contactsEnabled() bool {
	switch c.Contacts {
	case ContactsOff:
		return false
	case ContactsOn:
		return true
	}
	return c.DataKeyFile != "" || c.devRing()
}

func (c *NodeConfig) validateContacts() error {
	switch c.Contacts {
	case ContactsAuto, ContactsOff:
		return nil
	case ContactsOn:
		if c.DataKeyFile == "" && !c.devRing() {
			return errors.New("--contacts on needs --data-key-file (the ring every node shares; only a single --auth dev node on the embedded store makes its own)")
		}
		return nil
	}
	return fmt.Errorf("--contacts %q: want %s, %s or %s", c.Contacts, ContactsAuto, ContactsOn, ContactsOff)
}

// contactSealer returns the ring that seals the edge's contacts, or nil (a nil interface, not
// a typed nil) when the node accepts none.
func (m *Main) contactSealer() (api.ContactSealer, error) {
	c := &m.Config
	if !c.contactsEnabled() {
		return nil, nil
	}
	ring, err := loadDataRing(c.DataKeyFile, c.DataDir)
	if err != nil {
		return nil, err
	}
	if c.DataKeyFile == "" {
		m.Logger.Warn("contacts are sealed with the dev data key under --data-dir; give real nodes --data-key-file", "ring", ring)
	} else {
		m.Logger.Info("contacts are sealed with the data key ring", "ring", ring)
	}
	return ring, nil
}

// loadDataRing loads keyFile, or when it is empty the dev ring under dataDir, created on first
// use (one key, mode 0600).
func loadDataRing(keyFile, dataDir string) (*pii.Keyring, error) {
	if keyFile != "" {
		ring, err := pii.LoadKeyring(keyFile)
		if err != nil {
			return nil, fmt.Errorf("--data-key-file: %w", err)
		}
		return ring, nil
	}
	path := DevDataKeyFile(dataDir)
	if err := createDevRing(path); err != nil {
		return nil, fmt.Errorf("dev data key: %w", err)
	}
	return pii.LoadKeyring(path)
}

// createDevRing writes a new one-key ring at path unless a file is there. O_EXCL makes two
// processes starting on a fresh data dir agree on one key.
func createDevRing(path string) error {
	line, err := pii.NewKeyLine("dev1")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, werr := f.WriteString("# Allot dev data key ring (single node, --auth dev). Not for real guests: use --data-key-file.\n" + line + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

package main

// The storage and queue drivers this package reaches: each registers
// itself when imported, so that a program links only the SDKs it uses.
import (
	_ "github.com/greensight/vzarr/blobio/azure"  // abfs://, abfss://, az://, azblob://
	_ "github.com/greensight/vzarr/queue/azuresb" // azuresb://
	_ "github.com/greensight/vzarr/queue/mem"     // mem://
	_ "github.com/greensight/vzarr/queue/rabbit"  // rabbit://
)
